"""Issue 6's offline acceptance test, on synthetic tuning MDPs instead of the held-out suite:
at every dataset size of the benchmark (5, 50 and 500 episodes), the foundation model's IQM
under each candidate virtual outcome against VI-LCB's (the shipped submission) with its 95%
stratified-bootstrap interval, as the leaderboard computes them.

tune_fm.py scores offline settings at 5 and 50 episodes only (its mean offline score); this
script adds 500 and reports by size, so a setting can be chosen on how it meets the criterion
at each size, on the suites (``rlbench_icl.tuning``), never on a benchmark task. Candidates
are run on the network in ``--checkpoint`` (default: the shipped one).

Usage: python experiments/offline_sizes.py [--suite default|explore] [--mdps N] [--seeds N]
       [--jobs N] [--checkpoint DIR] [--only TEXT] [--declared-unit]

``--declared-unit``: the foundation model reads rewards in units of at least the task's
declared bound (``Reading.range_scale``), as release 5.1 does online.
"""

from __future__ import annotations

# isort: off
import rlbench_icl  # noqa: F401 - before numpy: no AVX-512 kernels (rlbench_icl/cpu.py)
# isort: on
import argparse
from pathlib import Path

import joblib
import numpy as np
from tabulate import tabulate
from tqdm.auto import tqdm

from rlbench_icl.discovery import SUBMISSIONS_DIR, resolve
from rlbench_icl.fm.policy import Reading
from rlbench_icl.fm.virtual import VirtualOutcome
from rlbench_icl.leaderboard import size_matrix
from rlbench_icl.scoring import BootstrapConfig, aggregate_with_ci
from rlbench_icl.tasks import Task
from rlbench_icl.tuning import (
    TUNING_EPSILONS,
    add_suite_arguments,
    fm_submission,
    offline_cells,
    tuning_tasks,
)

SIZES = (5, 50, 500)
# name -> the foundation model's virtual outcome, or None for the shipped VI-LCB submission.
CANDIDATES = {
    "vi-lcb": None,
    "trap (1, -1) once (release 3)": VirtualOutcome(1.0, -1.0),
    "lasting (1, worst) (release 3.2)": VirtualOutcome(1.0, "worst", lasting=True),
    "lasting (0.3, worst)": VirtualOutcome(0.3, "worst", lasting=True),
    "lasting (1, worst-recurring)": VirtualOutcome(1.0, "worst-recurring", lasting=True),
    "lasting (0.3, worst-recurring)": VirtualOutcome(0.3, "worst-recurring", lasting=True),
    "lasting (3, worst-recurring)": VirtualOutcome(3.0, "worst-recurring", lasting=True),
}


def cells(name: str, task: Task, seed: int, checkpoint: Path, declared_unit: bool = False
          ) -> list[dict]:
    """The offline cells (epsilon x size) of one candidate on one task and seed."""
    virtual = CANDIDATES[name]
    if virtual is None:
        submission = resolve("vi-lcb")[1]
    else:
        submission = fm_submission(checkpoint, Reading(virtual=virtual,
                                                       range_scale=declared_unit))
    return offline_cells(task, submission, seed, SIZES)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_suite_arguments(parser, online=False)
    parser.add_argument("--checkpoint", type=Path, default=SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    parser.add_argument("--only", default="", help="run the candidates whose name has TEXT")
    parser.add_argument("--declared-unit", action="store_true",
                        help="the model reads rewards in the task's declared unit")
    args = parser.parse_args()
    args.names = [name for name in CANDIDATES if args.only in name]
    if not args.names:
        parser.error(f"no candidate name contains {args.only!r}: {list(CANDIDATES)}")
    return args


def size_row(name: str, runs: dict, num_tasks: int, seeds: int) -> list[str]:
    """IQM [95% CI] and mean per size, then the mean score, of one candidate."""
    config = BootstrapConfig()
    row, means = [name], []
    for size in SIZES:
        matrix = size_matrix([[runs[(t, s)] for t in range(num_tasks)]
                              for s in range(seeds)], size)
        point, lo, hi = aggregate_with_ci(matrix, config)["IQM"]
        row.append(f"{point:.4f} [{lo:.4f}, {hi:.4f}], mean {matrix.mean():.4f}")
        means.append(matrix.mean())
    return row + [f"{np.mean(means):.3f}"]


def main() -> None:
    args = parse_args()
    tasks = tuning_tasks(args.mdps, args.suite, args.first)
    jobs = [(name, t, s) for name in args.names for t in range(len(tasks))
            for s in range(args.seeds)]
    results = joblib.Parallel(n_jobs=args.jobs)(
        joblib.delayed(cells)(name, tasks[t], s, args.checkpoint.resolve(), args.declared_unit)
        for name, t, s in tqdm(jobs, desc="offline-sizes"))
    by_name: dict = {}
    for (name, t, s), value in zip(jobs, results, strict=True):
        by_name.setdefault(name, {})[(t, s)] = value
    rows = [size_row(name, runs, len(tasks), args.seeds) for name, runs in by_name.items()]
    print(f"{len(tasks)} synthetic tuning MDPs ({args.suite} suite), {args.seeds} seeds, "
          f"behaviours {TUNING_EPSILONS}; network {args.checkpoint.name}"
          f"{', declared unit' if args.declared_unit else ''}; IQM [95% CI] and mean by size")
    print(tabulate(rows, headers=["candidate"] + [f"{n} episodes" for n in SIZES]
                   + ["mean score"], tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
