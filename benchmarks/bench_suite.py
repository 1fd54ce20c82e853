"""Seconds to draw and solve a whole suite of family instances (exact V* and V_rand), on one
core, in one run:

1. the registry as it is: each transition matrix planned in flat form, sparse (CSR) where
   S >= 64 and at most 10% of the entries are nonzero;
2. the named alternative: the same instances planned densely (``dynprog`` forced dense).

Each variant draws every instance afresh in a new registry. The issue's goal: the test suite
in under 10 s on one core.

Usage: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_suite.py [--suite test]
"""

from __future__ import annotations

import argparse
import time

from tabulate import tabulate

from rlbench_icl import dynprog, load_registry


def solve_suite(suite: str) -> tuple[float, int, int]:
    """(seconds, instances, largest S) to draw and solve every task of ``suite``."""
    start = time.perf_counter()
    registry = load_registry()
    ids = registry.select(suite)
    largest = 0
    for task_id in ids:
        task = registry.make(task_id)  # draws (and redraws) the instance, exact V*, V_rand
        largest = max(largest, task.mdp.num_states)
    return time.perf_counter() - start, len(ids), largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="test")
    args = parser.parse_args()
    auto = solve_suite(args.suite)
    threshold = dynprog.SPARSE_MIN_STATES
    dynprog.SPARSE_MIN_STATES = 10**9  # the alternative: every matrix dense
    try:
        dense = solve_suite(args.suite)
    finally:
        dynprog.SPARSE_MIN_STATES = threshold
    print(tabulate([["registry (sparse where it pays)", f"{auto[0]:.2f}", auto[1], auto[2]],
                    ["always dense", f"{dense[0]:.2f}", dense[1], dense[2]]],
                   headers=["variant", "seconds", "instances", "largest S"]))


if __name__ == "__main__":
    main()
