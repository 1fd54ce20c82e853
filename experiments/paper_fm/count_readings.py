"""How many times gnn-fm-paper reads its experience in one online run, at several cadences,
and the run's CPU seconds beside UCB-VI's: what a cadence saves, measured without reading
any score (README.md here, "The cadence rule's second candidate").

    OMP_NUM_THREADS=1 python experiments/paper_fm/count_readings.py \\
        --tasks GarnetS100A6B10-v0,DeepSea10-v0 --cadences "1,0 4,0 2,1 4,1"

A cadence "f,m" re-reads after an episode once a pair visited since the last reading has
f * max(n_read, m) visits (``InContextAgent``); "1,0" is the paper's, after every episode.
``--checkpoint DIR`` counts with another export of the same design (e.g. a wider scale).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from task_costs import time_cell  # noqa: E402 - the cost protocol's own cell timer

from rlbench_icl import default_registry  # noqa: E402
from rlbench_icl.discovery import register_object, resolve, submission_code  # noqa: E402
from rlbench_icl.fm.policy import InContextAgent  # noqa: E402
from rlbench_icl.tuning import refresh_variant  # noqa: E402


def count_readings() -> list[int]:
    """Wrap ``InContextAgent._refresh`` (in this process) to count its calls; returns the
    counter, a one-item list."""
    count, refresh = [0], InContextAgent._refresh

    def counted(agent: InContextAgent) -> None:
        count[0] += 1
        refresh(agent)

    InContextAgent._refresh = counted
    return count


def parse_cadence(text: str) -> tuple[float, float]:
    try:
        ratio, floor = (float(part) for part in text.split(","))
    except ValueError:
        raise SystemExit(f"--cadences: {text!r} is not 'f,m' (two numbers)") from None
    return ratio, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="GarnetS100A6B10-v0", help="task ids, tags or suites")
    parser.add_argument("--cadences", default="1,0 4,0 4,1", help='"f,m" pairs, space-separated')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None,
                        help="a train-fm export to read with (default: the shipped one)")
    args = parser.parse_args()
    cadences = [parse_cadence(c) for c in args.cadences.split()]
    registry = default_registry()
    count = count_readings()
    ucbvi_ref, ucbvi = resolve("ucbvi")
    rows = []
    for task_id in registry.select(args.tasks):
        for ratio, floor in cadences:
            submission = refresh_variant("gnn_fm_paper.py", f"gnn-fm-paper-f{ratio:g}m{floor:g}",
                                         "READING", ratio, floor, args.checkpoint)
            count[0] = 0
            seconds = time_cell(register_object(submission), submission, "", registry, task_id,
                                "online", args.seed, 600.0)
            rows.append([task_id, f"({ratio:g}, {floor:g})", count[0], seconds])
            print(*rows[-1], file=sys.stderr, flush=True)
        rows.append([task_id, "UCB-VI", "-", time_cell(
            ucbvi_ref, ucbvi, submission_code(ucbvi_ref, ucbvi), registry, task_id, "online",
            args.seed, 600.0)])
    print(tabulate(rows, headers=["task", "cadence (f, m)", "readings", "CPU s"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
