"""Issue 6's offline acceptance test, on synthetic tuning MDPs instead of the held-out suite:
at every dataset size of the benchmark (5, 50 and 500 episodes), the foundation model's IQM
under each candidate virtual outcome against VI-LCB's (the shipped submission) with its 95%
stratified-bootstrap interval, as the leaderboard computes them.

tune_fm.py scores offline settings at 5 and 50 episodes only (its mean offline score); this
script adds 500 and reports by size, so a setting can be chosen on how it meets the criterion
at each size, on the suites, never on a benchmark task. Candidates are run on the network in
``--checkpoint`` (default: the shipped one).

Usage: python benchmarks/offline_sizes.py [--suite default|explore] [--mdps N] [--seeds N]
       [--jobs N] [--checkpoint DIR] [--only TEXT] [--declared-unit]

``--declared-unit``: the foundation model reads rewards in units of at least the task's
declared bound (gnn_fm's ``range_scale``), as release 5.1 does online.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import joblib
import numpy as np
from tabulate import tabulate
from tqdm.auto import tqdm

from rlbench_icl import OfflineSettings, Submission
from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.leaderboard import size_matrix
from rlbench_icl.protocols import run_offline
from rlbench_icl.scoring import BootstrapConfig, aggregate_with_ci

sys.path.insert(0, str(Path(__file__).parent))
from tune_baselines import module, tuning_parser, tuning_tasks  # noqa: E402
from tune_fm import fm_module  # noqa: E402

SIZES = (5, 50, 500)
EPSILONS = (1.0, 0.5, 0.1)
# name -> the foundation model's virtual outcome (pseudo-count, multiple[, lasting]), or
# "vi-lcb" for the shipped VI-LCB submission.
CANDIDATES = {
    "vi-lcb": "vi-lcb",
    "trap (1, -1) once (release 3)": (1.0, -1.0),
    "lasting (1, worst) (release 3.2)": (1.0, "worst", True),
    "lasting (0.3, worst)": (0.3, "worst", True),
    "lasting (1, worst-recurring)": (1.0, "worst-recurring", True),
    "lasting (0.3, worst-recurring)": (0.3, "worst-recurring", True),
    "lasting (3, worst-recurring)": (3.0, "worst-recurring", True),
}


def cells(name: str, task, seed: int, checkpoint: Path, declared_unit: bool = False
          ) -> list[dict]:
    """The offline cells (epsilon x size) of one candidate on one task and seed."""
    candidate = CANDIDATES[name]
    if candidate == "vi-lcb":
        solver = module("vi_lcb").solve_vi_lcb
    else:
        solver = functools.partial(fm_module(checkpoint).solve_offline, pessimism=candidate,
                                   range_scale=declared_unit)
    sub = Submission(name="tuning", version="0", solve_offline=solver)
    settings = OfflineSettings(dataset_episodes=SIZES, epsilons=EPSILONS)
    return run_offline(task, sub, settings, seed)["cells"]


def main() -> None:
    parser = tuning_parser(__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    parser.add_argument("--only", default="", help="run the candidates whose name has TEXT")
    parser.add_argument("--declared-unit", action="store_true",
                        help="the model reads rewards in the task's declared unit")
    args = parser.parse_args()
    names = [name for name in CANDIDATES if args.only in name]
    if not names:
        parser.error(f"no candidate name contains {args.only!r}: {list(CANDIDATES)}")
    tasks = tuning_tasks(args.mdps, args.suite)
    jobs = [(name, t, s) for name in names for t in range(len(tasks))
            for s in range(args.seeds)]
    results = joblib.Parallel(n_jobs=args.jobs)(
        joblib.delayed(cells)(name, tasks[t], s, args.checkpoint.resolve(), args.declared_unit)
        for name, t, s in tqdm(jobs, desc="offline-sizes"))
    by_name: dict = {}
    for (name, t, s), value in zip(jobs, results, strict=True):
        by_name.setdefault(name, {})[(t, s)] = value
    config = BootstrapConfig()
    rows = []
    for name, runs in by_name.items():
        row, means = [name], []
        for size in SIZES:
            matrix = size_matrix([[runs[(t, s)] for t in range(len(tasks))]
                                  for s in range(args.seeds)], size)
            point, lo, hi = aggregate_with_ci(matrix, config)["IQM"]
            row.append(f"{point:.4f} [{lo:.4f}, {hi:.4f}], mean {matrix.mean():.4f}")
            means.append(matrix.mean())
        rows.append(row + [f"{np.mean(means):.3f}"])
    print(f"{len(tasks)} synthetic tuning MDPs ({args.suite} suite), {args.seeds} seeds, "
          f"behaviours {EPSILONS}; network {args.checkpoint.name}"
          f"{', declared unit' if args.declared_unit else ''}; IQM [95% CI] and mean by size")
    print(tabulate(rows, headers=["candidate"] + [f"{n} episodes" for n in SIZES]
                   + ["mean score"], tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
