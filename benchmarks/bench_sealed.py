"""Wall time of sealed runs (the agent in its own process) against the named alternative,
in-process runs, in the same process and on the same runs.

Each run is one seed of the full online protocol, through the runner's ``execute`` exactly
as ``rlbench-icl run`` calls it (``--jobs 1``); the sealed runs include starting the agent
process from the fork server (the server itself is started once, before timing). The issue's
goal: sealed at most 1.5x in-process for UCB-VI on FrozenLake 8x8 and Taxi.

Usage: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_sealed.py \
           [--agents ucbvi] [--tasks FrozenLake8x8-v0,Taxi-v0] [--seeds 1]
"""

from __future__ import annotations

import argparse
import time

from tabulate import tabulate

from rlbench_icl import default_registry
from rlbench_icl.discovery import resolve, submission_code
from rlbench_icl.runner import plan_runs
from rlbench_icl.runner.execute import execute
from rlbench_icl.sealed.proxy import zygote


def timed(runs) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    records = [execute(run)[1] for run in runs]
    return time.perf_counter() - start, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="ucbvi")
    parser.add_argument("--tasks", default="FrozenLake8x8-v0,Taxi-v0")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    registry = default_registry()
    zygote()  # started once per harness process: not part of a run's cost
    rows = []
    for agent in args.agents.split(","):
        ref, submission = resolve(agent)
        code = submission_code(ref, submission)
        for task_id in args.tasks.split(","):
            plans = {mode: plan_runs(ref, submission, registry, [task_id], ["online"],
                                     range(args.seeds), isolation=mode, code=code)
                     for mode in ("in-process", "sealed")}
            inside, first = timed(plans["in-process"])
            sealed, second = timed(plans["sealed"])
            same = all({**a, "isolation": None} == {**b, "isolation": None}
                       for a, b in zip(first, second, strict=True))
            steps = sum(len(r["result"]["episodes"]["returns"]) for r in first)
            rows.append([agent, task_id, steps, f"{inside:.2f}", f"{sealed:.2f}",
                         f"{sealed / inside:.2f}x", "yes" if same else "NO"])
    print(tabulate(rows, headers=["agent", "task", "episodes", "in-process (s)", "sealed (s)",
                                  "ratio", "same records"]))


if __name__ == "__main__":
    main()
