"""The twenty-fifth attempt's declared rule (experiments/tune_fm.md, "The twenty-fifth
attempt, planned"), applied to its runs files only, so that no one reads it by eye.

    python experiments/fm25/decide.py step1                        # choose T*
    python experiments/fm25/decide.py step2 --row R --upto SUITE   # confirm on fresh MDPs

``step1``: on MDPs 2800-2863 of `gaps` and `default`, T* is the temperature whose `gaps`
mean is highest among those whose `default` mean is at least release 6.1's minus 0.01; the
attempt stops if none is eligible or if the candidate's `gaps` mean at T* is below release
6.1's plus 0.02. ``step2``: on MDPs 2900-3155, the candidate at row R paired by MDP against
release 6.1, suite by suite in the order gaps, default, explore, up to ``--upto``: mean
difference at least +0.02 on gaps and at least -0.01 on the others; ``--upto offline`` adds
the offline means on MDPs 2900-2963 (3 seeds) of default and gaps, the candidate's at least
release 6.1's minus 0.01. Exit 0: go on; 1: the attempt stops; 2: a record is missing or not
what the rule declares.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

from rlbench_icl.tuning import paired_interval, parse_runs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WEIGHTS = {"release": ROOT / "submissions/gnn_fm_checkpoint/model.safetensors",
           "candidate": HERE / "run/model.safetensors"}
TEMPERATURES = (0.1, 0.2, 0.3, 0.5, 1.0)  # tune_fm.py's temperature24 rows 0-4
MARGIN, GAIN = 0.01, 0.02
ONLINE_SUITES = ("gaps", "default", "explore")


class Missing(Exception):
    """A record the rule needs is absent or is not what it declares."""


def runs(step: int, who: str, sweep: str, suite: str, first: int, mdps: int, seeds: int,
         rows: list[int]) -> dict[int, np.ndarray]:
    """row -> scores (MDPs x seeds) of one runs file, after checking it holds exactly the
    declared runs of the declared weights."""
    path = HERE / f"step{step}" / f"{who}-{sweep}-{suite}.csv"
    if not path.exists():
        raise Missing(f"step{step}/{path.name} is missing (experiments/fm25/steps.sh {step})")
    network = who.split("-")[0]  # candidate-row<R>: the candidate's step-2 runs at row R
    if not WEIGHTS[network].exists():
        raise Missing(f"{network}'s weights {WEIGHTS[network]} are missing")
    lines = path.read_text().splitlines()
    weights = hashlib.sha256(WEIGHTS[network].read_bytes()).hexdigest()[:12]
    header = (f"# tune_fm runs: sweep={sweep} suite={suite} episodes=300 "
              f"checkpoint={weights}")
    if lines[:1] != [header]:
        raise Missing(f"{path.name} was not made as declared: {lines[:1]} is not [{header!r}]")
    try:
        found = parse_runs(lines[2:], path.name)
    except ValueError as exc:
        raise Missing(str(exc)) from None
    wanted = {(r, first + m, s): (r, m, s) for r in rows
              for m in range(mdps) for s in range(seeds)}
    if set(found) != set(wanted):
        raise Missing(f"{path.name}: {len(found)} runs, not the {len(wanted)} declared "
                      f"(rows {rows}, MDPs {first}-{first + mdps - 1}, {seeds} seeds)")
    table = {r: np.zeros((mdps, seeds)) for r in rows}
    for key, (r, m, s) in wanted.items():
        table[r][m, s] = found[key]
    return table


def step1() -> bool:
    rows = list(range(len(TEMPERATURES)))
    release = {suite: runs(1, "release", "temperature24", suite, 2800, 64, 1, [0])[0].mean()
               for suite in ("gaps", "default")}
    cand = {suite: runs(1, "candidate", "temperature24", suite, 2800, 64, 1, rows)
            for suite in ("gaps", "default")}
    floor = release["default"] - MARGIN
    eligible = [r for r in rows if cand["default"][r].mean() >= floor]
    table = [["release 6.1 (T = 0.1)", f"{release['gaps']:.4f}", f"{release['default']:.4f}",
              "-"]]
    table += [[f"candidate, T = {TEMPERATURES[r]} (row {r})", f"{cand['gaps'][r].mean():.4f}",
               f"{cand['default'][r].mean():.4f}", "yes" if r in eligible else "no"]
              for r in rows]
    print("Step 1, MDPs 2800-2863, seed 0, 300 episodes (mean over MDPs)")
    print(tabulate(table, headers=["network", "gaps", "default",
                                   f"eligible (default >= {floor:.4f})"],
                   tablefmt="github", disable_numparse=True))
    if not eligible:
        print("Decision: no temperature is eligible; the attempt stops.")
        return False
    best = max(eligible, key=lambda r: cand["gaps"][r].mean())
    needed = release["gaps"] + GAIN
    if cand["gaps"][best].mean() < needed:
        print(f"Decision: T* = {TEMPERATURES[best]}, but its gaps mean "
              f"{cand['gaps'][best].mean():.4f} is below {needed:.4f} (release 6.1's + "
              f"{GAIN}); the attempt stops.")
        return False
    print(f"Decision: T* = {TEMPERATURES[best]}: go on to step 2 "
          f"(experiments/fm25/steps.sh 2 {best}).")
    return True


def step2(row: int, upto: str) -> bool:
    order = [*ONLINE_SUITES, "offline"]
    table, passed = [], True
    for suite in order[:order.index(upto) + 1]:
        if suite == "offline":
            for off in ("default", "gaps"):
                r = runs(2, "release", "shipped-offline", off, 2900, 64, 3, [0])[0].mean()
                c = runs(2, "candidate", "shipped-offline", off, 2900, 64, 3, [0])[0].mean()
                ok = c >= r - MARGIN
                table.append([f"{off}, offline", f"{r:.4f}", f"{c:.4f}", f"{c - r:+.4f}", "-",
                              f">= -{MARGIN}", "yes" if ok else "no"])
                passed &= ok
            break
        r = runs(2, "release", "temperature24", suite, 2900, 256, 1, [0])[0]
        c = runs(2, f"candidate-row{row}", "temperature24", suite, 2900, 256, 1, [row])[row]
        mean, low, high = paired_interval(c - r)
        bar = GAIN if suite == "gaps" else -MARGIN
        ok = mean >= bar
        table.append([f"{suite}, online", f"{r.mean():.4f}", f"{c.mean():.4f}", f"{mean:+.4f}",
                      f"[{low:+.4f}, {high:+.4f}]", f">= {bar:+}", "yes" if ok else "no"])
        passed &= ok
        if not ok:
            break
    print(f"Step 2, the candidate at T = {TEMPERATURES[row]} against release 6.1, paired by "
          "MDP (online: MDPs 2900-3155, seed 0; offline: MDPs 2900-2963, 3 seeds)")
    print(tabulate(table, headers=["suite", "release 6.1", "candidate", "difference",
                                   "95% CI", "bar", "passes"],
                   tablefmt="github", disable_numparse=True))
    print("Decision: " + ("go on." if passed else "the attempt stops."))
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("step1", "step2"))
    parser.add_argument("--row", type=int, choices=range(len(TEMPERATURES)))
    parser.add_argument("--upto", choices=(*ONLINE_SUITES, "offline"), default="offline")
    args = parser.parse_args()
    if args.step == "step2" and args.row is None:
        parser.error("step2 needs --row (the row step1 chose)")
    try:
        go = step1() if args.step == "step1" else step2(args.row, args.upto)
    except Missing as exc:
        print(f"not decided: {exc}", file=sys.stderr)
        return 2
    return 0 if go else 1


if __name__ == "__main__":
    sys.exit(main())
