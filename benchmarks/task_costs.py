"""CPU seconds of one seed of the full protocol, per task and reference agent.

Each cell is one run (seed 0, the task's declared budget) planned with ``plan_runs`` and
executed in this process (``execute``, as ``rlbench-icl run --in-process --jobs 1`` runs it),
timed with ``time.process_time``: the CPU time of this process, every thread included, so a
busy machine slows the clock on the wall but barely the cell. A cell includes building the
task once (at most 0.3 s, on Taxi). A run longer than ``--limit`` wall seconds is stopped
and shown as ``> limit``. Agents whose submission cannot be loaded (gnn-fm without torch)
are left out, with a line on stderr saying so.

Usage: OMP_NUM_THREADS=1 python benchmarks/task_costs.py [--tasks full]
           [--online random,ucbvi,psrl,qlearning,gnn-fm] [--offline vi-lcb,plugin,gnn-fm]
           [--seed 0] [--limit 600]
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
    parser.add_argument("--limit", type=float, default=600.0,
                        help="wall seconds after which a run is stopped")
    args = parser.parse_args()
    registry = default_registry()
    task_ids = registry.select(args.tasks)
    header, cells = [], []
    for agent, protocol in columns(args.online, args.offline):
        try:
            ref, submission = resolve(agent)
        except RlbenchIclError as exc:
            print(f"left out {agent}: {exc}", file=sys.stderr)
            continue
        code = submission_code(ref, submission)
        column = []
        for task_id in task_ids:
            column.append(time_cell(ref, submission, code, registry, task_id, protocol,
                                    args.seed, args.limit))
            print(f"{agent} {protocol} {task_id}: {column[-1]} s", file=sys.stderr,
                  flush=True)
        header.append(f"{agent} {protocol}")
        cells.append(column)
    rows = [[task_id, *(column[i] for column in cells)] for i, task_id in enumerate(task_ids)]
    totals = [f"{sum(float(c) for c in column if c[0].isdigit()):.1f}" for column in cells]
    rows.append(["**total**", *totals])
    print(tabulate(rows, headers=["task", *header], tablefmt="github", disable_numparse=True,
                   colalign=("left", *["right"] * len(header))))


if __name__ == "__main__":
    main()
