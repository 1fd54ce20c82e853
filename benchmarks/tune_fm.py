"""Choosing the foundation model's inference settings on synthetic MDPs only: the online
sampling temperature, the number of propagation rounds, and the virtual-outcome optimism
(online) and pessimism (offline) of rlbench_icl/fm/virtual.py.

Two suites of 24 synthetic tuning MDPs (benchmarks/tune_baselines.py): ``default``, the
baselines' suite, and ``explore``, sparse far goals only. 2 seeds, 100 online episodes,
scored by the online score; offline settings by the offline score (datasets of 5 and 50
episodes, behaviours uniform, 0.5- and 0.1-mixtures). No benchmark task is used.

Usage: python benchmarks/tune_fm.py [--suite default|explore] [--mdps N] [--seeds N]
       [--episodes K] [--jobs N]
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import joblib
import numpy as np
from tabulate import tabulate
from tqdm.auto import tqdm

from rlbench_icl.submissions import SUBMISSIONS_DIR, _import_file

sys.path.insert(0, str(Path(__file__).parent))
from tune_baselines import play, tuning_parser, tuning_tasks  # noqa: E402

# (protocol, what is varied, temperature, rounds, virtual outcome (pseudo-count, multiple))
SETTINGS = (
    [("online", "temperature", t, None, None) for t in (0.1, 0.2, 0.3, 0.5, 1.0)]
    + [("offline", "rounds", None, r, None) for r in (None, 20)]
    + [("online", "optimism", 0.3, None, v)
       for v in ((0.5, 1), (1, 0.5), (1, 1), (1, 2), (1, 3), (3, 1))]
    + [("offline", "pessimism", None, None, v) for v in ((1, -0.5), (1, -1), (1, -3), (3, -1))])


def score(protocol, temperature, rounds, virtual, task, seed, episodes) -> float:
    fm = _import_file(SUBMISSIONS_DIR / "gnn_fm.py")
    if protocol == "offline":
        solver = functools.partial(fm.solve_offline, rounds=rounds, pessimism=virtual)
        return play(True, solver, task, seed, episodes)
    factory = functools.partial(fm.FoundationModelAgent, temperature=temperature,
                                rounds=rounds, optimism=virtual)
    return play(False, factory, task, seed, episodes)


def main() -> None:
    args = tuning_parser(__doc__.splitlines()[0]).parse_args()
    tasks = tuning_tasks(args.mdps, args.suite)
    jobs = [(cfg, t, s) for cfg in SETTINGS for t in range(len(tasks))
            for s in range(args.seeds)]
    values = joblib.Parallel(n_jobs=args.jobs)(
        joblib.delayed(score)(p, temp, r, v, tasks[t], s, args.episodes)
        for (p, _, temp, r, v), t, s in tqdm(jobs, desc="tune-fm"))
    table: dict = {}
    for (cfg, _, _), v in zip(jobs, values, strict=True):
        table.setdefault(cfg, []).append(v)
    rows = [[p, what, "-" if temp is None else temp, "train" if r is None else r,
             "-" if virt is None else virt, f"{np.mean(v):.3f}", f"{np.median(v):.3f}"]
            for (p, what, temp, r, virt), v in table.items()]
    print(f"{len(tasks)} synthetic tuning MDPs ({args.suite} suite), {args.seeds} seeds, "
          f"{args.episodes} episodes")
    print(tabulate(rows, headers=["protocol", "varied", "temperature", "rounds", "virtual",
                                  "mean score", "median"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
