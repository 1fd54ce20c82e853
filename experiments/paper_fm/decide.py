"""gnn-fm-paper's declared rules (README.md here), applied to the committed records only, so
that no one picks a release by reading the numbers by eye.

    python experiments/paper_fm/decide.py scale     # which trained scale ships
    python experiments/paper_fm/decide.py cadence   # how often w256 re-reads, if it ships

``scale`` ("Decision rules, written before any result"): the scale with the highest mean
validation value at its last step; a smaller one within 0.01 of it ships instead (the
smallest such, as it reads cheapest). No decision while a scale has not finished its
declared steps.

``cadence`` ("If w256 ships"): the ladder f = 4, 8, 16, 32 (floor 1) in order. Cost half:
``costs-w256-f{f}m1-dev-seed{0,1}.txt`` (``benchmarks/task_costs.py``'s tables), every dev
task at most 3x UCB-VI. Score half: ``refresh/w256-{gaps,default,explore}.txt``
(``refresh.sh`` with ``SWEEP=paper-refresh-w256``), the candidate's 95% CI lower end at
least -0.02 against the paper's cadence on every suite. The first candidate passing both
ships; if none does, the paper's cadence (f = 1, floor 0). The answer says which record is
missing when it cannot decide yet.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from tabulate import tabulate

from rlbench_icl.fm.train import load_config

HERE = Path(__file__).resolve().parent
SHIPPED = HERE.parents[1] / "submissions" / "gnn_fm_paper_checkpoint"
SCALES = {  # width: (its log as committed, its training config)
    64: (SHIPPED / "train_log.jsonl", SHIPPED / "train.toml"),
    128: (HERE / "progress/w128/train_log.jsonl", HERE / "w128.toml"),
    256: (HERE / "progress/w256/train_log.jsonl", HERE / "w256.toml"),
}
MARGIN = 0.01
LADDER = (4, 8, 16, 32)
SEEDS = (0, 1)
SUITES = ("gaps", "default", "explore")
COST_BAR = 3.0
SCORE_BAR = -0.02
PAPER_CADENCE = "the paper's cadence (f = 1, floor 0)"


def last_reading(log: Path) -> dict:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1])


def choose_scale(finals: dict[int, float], margin: float = MARGIN) -> int:
    """The smallest width whose final value is within ``margin`` of the best."""
    best = max(finals.values())
    return min(width for width, value in finals.items() if best - value <= margin)


def scale(scales: dict[int, tuple[Path, Path]] = SCALES) -> tuple[list[list], str]:
    rows, finals, unfinished = [], {}, []
    for width, (log, config) in sorted(scales.items()):
        reading, steps = last_reading(log), load_config(config).steps
        rows.append([f"w{width}", f"{reading['step']:,} of {steps:,}",
                     f"{reading['val_normalised_value']:.4f}"])
        if reading["step"] < steps:
            unfinished.append(f"w{width} is at step {reading['step']:,} of {steps:,}")
        finals[width] = reading["val_normalised_value"]
    if unfinished:
        return rows, "not decided: " + "; ".join(unfinished)
    return rows, f"w{choose_scale(finals)} ships"


def cost_ratios(table: Path, candidate: str) -> dict[str, float]:
    """Each task's CPU seconds for ``candidate`` over UCB-VI's, from a task_costs table
    (a cell that is not a number, a run stopped or failed, counts as infinitely costly)."""
    lines = [line for line in table.read_text().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    ucbvi = header.index("ucbvi online")
    mine = next(i for i, name in enumerate(header) if name.endswith(f"{candidate} online"))
    ratios = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0].startswith("**"):
            continue
        try:
            ratios[cells[0]] = float(cells[mine]) / float(cells[ucbvi])
        except ValueError:
            ratios[cells[0]] = float("inf")
    return ratios


def paired_lower_ends(table: Path) -> dict[int, float]:
    """Each row's 95% CI lower end against row 0, from a tune_fm.py table."""
    paired = table.read_text().split("Paired against row 0", 1)[1]
    lows = {}
    for line in paired.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            lows[int(cells[0])] = float(re.match(r"\[([-+0-9.]+),", cells[-1])[1])
    return lows


def cadence(records: Path = HERE) -> tuple[list[list], str]:
    rows, decision = [], None
    for row, f in enumerate(LADDER, start=1):
        name = f"w256-f{f}m1"
        tables = [records / f"costs-{name}-dev-seed{s}.txt" for s in SEEDS]
        if not all(t.exists() for t in tables):
            missing = next(t.name for t in tables if not t.exists())
            rows.append([name, "not run", "-"])
            decision = decision or f"not decided: {missing} is missing (cost half of {name})"
            continue
        worst = max((kv for t in tables for kv in cost_ratios(t, name).items()),
                    key=lambda kv: kv[1])
        if worst[1] > COST_BAR:
            rows.append([name, f"fails ({worst[1]:.2f}x on {worst[0]})", "-"])
            continue
        scores = [records / "refresh" / f"w256-{suite}.txt" for suite in SUITES]
        lows = [paired_lower_ends(t).get(row) if t.exists() else None for t in scores]
        if None in lows:
            missing = SUITES[lows.index(None)]
            rows.append([name, f"passes ({worst[1]:.2f}x)", f"{missing}: not run"])
            decision = decision or (f"not decided: {name}'s score on {missing} is missing "
                                    f"(refresh.sh with ROWS=0,...,{row})")
            continue
        passed = all(low >= SCORE_BAR for low in lows)
        rows.append([name, f"passes ({worst[1]:.2f}x)",
                     ", ".join(f"{s} {low:+.4f}" for s, low in zip(SUITES, lows, strict=True))
                     + (" (passes)" if passed else " (fails)")])
        if passed:
            decision = decision or f"{name} ships (f = {f}, floor 1)"
    return rows, decision or f"no candidate passes both halves: {PAPER_CADENCE} ships"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rule", choices=("scale", "cadence"))
    args = parser.parse_args()
    if args.rule == "scale":
        rows, decision = scale()
        print(tabulate(rows, headers=["scale", "steps", "last validation mean"],
                       tablefmt="github", disable_numparse=True))
    else:
        rows, decision = cadence()
        print(tabulate(rows, headers=["candidate", "cost (worst dev task)",
                                      "score: CI lower end per suite"],
                       tablefmt="github", disable_numparse=True))
    print(f"\n{decision}")


if __name__ == "__main__":
    main()
