"""CPU seconds of one seed of the full protocol, per task and reference agent.

Each cell is one run (seed 0, the task's declared budget) planned with ``plan_runs`` and
executed in this process (``execute``, as ``rlbench-icl run --in-process --jobs 1`` runs it),
timed with ``time.process_time``: the CPU time of this process, every thread included, so a
busy machine slows the clock on the wall but barely the cell. A cell includes building the
task once (at most 0.3 s, on Taxi). With ``--repeat R`` every cell is run R times, the
columns of a task in turn (so that a change in the machine's load falls on all of them), and
the fastest is kept: the usual estimate of a run's own cost when other work shares the
machine. Above the table, each column's submission version (a foundation model's names its
weights' digest). A run longer than ``--limit`` wall seconds is stopped and shown as ``> limit``.
Agents whose submission cannot be loaded (gnn-fm without torch) are left out, with a line on
stderr saying so.

Usage: OMP_NUM_THREADS=1 python benchmarks/task_costs.py [--tasks full]
           [--online random,ucbvi,psrl,qlearning,gnn-fm] [--offline vi-lcb,plugin,gnn-fm]
           [--seed 0] [--repeat 1] [--limit 600]
"""

from __future__ import annotations

import argparse
import sys
import time

from tabulate import tabulate

from rlbench_icl import default_registry
from rlbench_icl.discovery import resolve, submission_code
from rlbench_icl.errors import RlbenchIclError
from rlbench_icl.runner import plan_runs
from rlbench_icl.runner.execute import execute

ONLINE = "random,ucbvi,psrl,qlearning,gnn-fm"
OFFLINE = "vi-lcb,plugin,gnn-fm"


def time_cell(ref, submission, code, registry, task_id: str, protocol: str, seed: int,
              limit: float) -> str:
    """The CPU seconds of one run as a table cell, or why there is none."""
    [run] = plan_runs(ref, submission, registry, [task_id], [protocol], [seed],
                      timeout=limit, isolation="in-process", code=code)
    start = time.process_time()
    _, record, wall = execute(run)
    seconds = time.process_time() - start
    if record["status"] == "ok":
        return f"{seconds:.2f}"
    if "time limit" in record["error"]["message"]:
        return f"> {limit:.0f}"
    return "failed"


def columns(online: str, offline: str) -> list[tuple[str, str]]:
    """(agent, protocol) pairs to time, in table order."""
    return ([(a, "online") for a in online.split(",") if a]
            + [(a, "offline") for a in offline.split(",") if a])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="full", help="task ids, tags or suites")
    parser.add_argument("--online", default=ONLINE, help="online agents, comma-separated")
    parser.add_argument("--offline", default=OFFLINE, help="offline agents, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each cell; the fastest is shown (default: 1)")
    parser.add_argument("--limit", type=float, default=600.0,
                        help="wall seconds after which a run is stopped")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: give at least 1")
    registry = default_registry()
    task_ids = registry.select(args.tasks)
    agents = []  # (header, ref, submission, code, protocol)
    for agent, protocol in columns(args.online, args.offline):
        try:
            ref, submission = resolve(agent)
        except RlbenchIclError as exc:
            print(f"left out {agent}: {exc}", file=sys.stderr)
            continue
        agents.append((f"{agent} {protocol}", ref, submission,
                       submission_code(ref, submission), protocol))
    rows = []
    for task_id in task_ids:
        timings = [[] for _ in agents]
        for _ in range(args.repeat):
            for timing, agent in zip(timings, agents, strict=True):
                name, ref, submission, code, protocol = agent
                timing.append(time_cell(ref, submission, code, registry, task_id, protocol,
                                        args.seed, args.limit))
                print(f"{name} {task_id}: {timing[-1]} s", file=sys.stderr, flush=True)
        rows.append([task_id, *(fastest(timing) for timing in timings)])
    totals = [f"{sum(float(row[i]) for row in rows if row[i][0].isdigit()):.1f}"
              for i in range(1, len(agents) + 1)]
    rows.append(["**total**", *totals])
    for name, _, submission, _, _ in agents:  # which code and weights the cells timed
        print(f"{name}: version {submission.version}")
    print(tabulate(rows, headers=["task", *(a[0] for a in agents)], tablefmt="github",
                   disable_numparse=True, colalign=("left", *["right"] * len(agents))))


def fastest(cells: list[str]) -> str:
    """The fastest of one cell's runs, or what went wrong if one failed or passed the
    limit."""
    wrong = [c for c in cells if not c[0].isdigit()]
    return wrong[0] if wrong else min(cells, key=float)


if __name__ == "__main__":
    main()
