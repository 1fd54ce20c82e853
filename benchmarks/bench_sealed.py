"""Wall time of sealed runs (the agent in its own process) against the named alternative,
in-process runs, in the same process and on the same runs.

Each run is one seed of the full online protocol, through the runner's ``execute`` exactly
as ``rlbench-icl run`` calls it (``--jobs 1``); the sealed runs include starting the agent
process from the fork server (the server itself is started once, before timing). The issue's
goal: sealed at most 1.5x in-process for UCB-VI on FrozenLake 8x8 and Taxi.

The two modes alternate ``--repeat`` times and the fastest time of each is kept, so that a
change in the machine's load between them weighs less; the load average is printed with the
table. The sealed runs also count their round trips to the agent process: ``act`` (one per
step: its mean time is the per-step cost of sealing, the agent's own ``observe`` and ``act``
included) and the others (``end_episode``, ``policy``: mostly the agent's planning).

Usage: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_sealed.py \
           [--agents ucbvi] [--tasks FrozenLake8x8-v0,Taxi-v0] [--seeds 1] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

from tabulate import tabulate

from rlbench_icl import default_registry
from rlbench_icl.discovery import resolve, submission_code
from rlbench_icl.runner import plan_runs
from rlbench_icl.runner.execute import execute
from rlbench_icl.sealed.proxy import AgentProcess, zygote


class RoundTrips:
    """Counts and times the sealed runs' requests, by wrapping ``AgentProcess``."""

    def __init__(self):
        self.count, self.seconds = Counter(), Counter()
        call, act = AgentProcess.call, AgentProcess.act

        def timed_call(process, header, arrays=()):
            start = time.perf_counter()
            try:
                return call(process, header, arrays)
            finally:
                self._add(header.get("op"), start)

        def timed_act(process, *args):
            start = time.perf_counter()
            try:
                return act(process, *args)
            finally:
                self._add("act", start)

        AgentProcess.call, AgentProcess.act = timed_call, timed_act

    def _add(self, op: str, start: float) -> None:
        self.count[op] += 1
        self.seconds[op] += time.perf_counter() - start

    def take(self) -> tuple[int, float, int, float]:
        """(act round trips, their mean in microseconds, other round trips, their seconds)
        since the last call."""
        acts, act_seconds = self.count.pop("act", 0), self.seconds.pop("act", 0.0)
        others, other_seconds = sum(self.count.values()), sum(self.seconds.values())
        self.count.clear()
        self.seconds.clear()
        return acts, 1e6 * act_seconds / max(acts, 1), others, other_seconds


def timed(runs) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    records = [execute(run)[1] for run in runs]
    return time.perf_counter() - start, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="ucbvi")
    parser.add_argument("--tasks", default="FrozenLake8x8-v0,Taxi-v0")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1,
                        help="alternate the two modes this many times, keep the fastest")
    args = parser.parse_args()
    registry = default_registry()
    zygote()  # started once per harness process: not part of a run's cost
    trips = RoundTrips()
    load_before = os.getloadavg()
    rows = []
    for agent in args.agents.split(","):
        ref, submission = resolve(agent)
        code = submission_code(ref, submission)
        for task_id in args.tasks.split(","):
            plans = {mode: plan_runs(ref, submission, registry, [task_id], ["online"],
                                     range(args.seeds), isolation=mode, code=code)
                     for mode in ("in-process", "sealed")}
            times = {"in-process": [], "sealed": []}
            for _ in range(args.repeat):
                inside, first = timed(plans["in-process"])
                sealed, second = timed(plans["sealed"])
                times["in-process"].append(inside)
                times["sealed"].append(sealed)
            acts, act_us, others, other_s = trips.take()
            same = all({**a, "isolation": None} == {**b, "isolation": None}
                       for a, b in zip(first, second, strict=True))
            episodes = sum(len(r["result"]["episodes"]["returns"]) for r in first)
            inside, sealed = min(times["in-process"]), min(times["sealed"])
            rows.append([agent, task_id, episodes, f"{inside:.2f}", f"{sealed:.2f}",
                         f"{sealed / inside:.2f}x", acts // args.repeat, f"{act_us:.0f}",
                         others // args.repeat, f"{other_s / args.repeat:.2f}",
                         "yes" if same else "NO"])
    print(tabulate(rows, headers=["agent", "task", "episodes", "in-process (s)", "sealed (s)",
                                  "ratio", "acts", "us/act", "other trips", "their s",
                                  "same records"]))
    print("load average (1, 5, 15 min): before " + ", ".join(f"{x:.2f}" for x in load_before)
          + "; after " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
          + f"; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
