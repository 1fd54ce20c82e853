"""gnn-fm-paper (the shipped checkpoint) read with gnn-fm 6.1's cadence, as a submission for
benchmarks/task_costs.py: the cost half of the cadence rule (README.md here, "What it costs
online"). ``gnn-fm-paper-f4`` re-reads once a pair visited since the last reading has 4 times
its count then (a first visit counts); everything else is gnn-fm-paper's.

    OMP_NUM_THREADS=1 python benchmarks/task_costs.py --tasks dev --offline "" \\
        --online ucbvi,experiments/paper_fm/cadence.py::gnn-fm-paper-f4 --seed S --repeat 3
"""

import dataclasses
import importlib.util

from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.tuning import fm_submission

_spec = importlib.util.spec_from_file_location("gnn_fm_paper", SUBMISSIONS_DIR / "gnn_fm_paper.py")
paper = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(paper)

SUBMISSION = dataclasses.replace(
    paper.SUBMISSION, name="gnn-fm-paper-f4",
    files=tuple(str(SUBMISSIONS_DIR / name) for name in paper.SUBMISSION.files),
    make_online_agent=fm_submission(paper.CHECKPOINT, paper.READING, paper.TEMPERATURE,
                                    4.0, 0.0).make_online_agent)
