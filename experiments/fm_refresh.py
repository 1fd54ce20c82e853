"""gnn-fm (release 6) re-reading its experience with the refresh ratio f of the fifteenth
attempt (experiments/tune_fm.md), as submissions for benchmarks/task_costs.py: the cost half
of the attempt's decision rule: ``gnn-fm-f2``, ``gnn-fm-f1.5``, ``gnn-fm-f1.25`` (f = 1 is
gnn-fm itself).

    OMP_NUM_THREADS=1 python benchmarks/task_costs.py --offline "" \\
        --online ucbvi,gnn-fm,experiments/fm_refresh.py::gnn-fm-f2,...
"""

import dataclasses
import importlib.util
from functools import partial

from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.fm.policy import InContextAgent, load_network

_spec = importlib.util.spec_from_file_location("gnn_fm", SUBMISSIONS_DIR / "gnn_fm.py")
gnn_fm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gnn_fm)


def _agent(refresh_ratio, info, rng):
    return InContextAgent(load_network(gnn_fm.CHECKPOINT), info, rng, gnn_fm.ONLINE,
                          gnn_fm.TEMPERATURE, refresh_ratio)


def _variant(f: float):
    files = tuple(str(SUBMISSIONS_DIR / name) for name in gnn_fm.SUBMISSION.files)
    return dataclasses.replace(gnn_fm.SUBMISSION, name=f"gnn-fm-f{f:g}", files=files,
                               make_online_agent=partial(_agent, f))


SUBMISSIONS = [_variant(2.0), _variant(1.5), _variant(1.25)]
