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
task at most 3x UCB-VI. A table of some dev tasks only (e.g. the costliest, timed first)
records a failure if one of them is above 3x, whatever the other seed's table holds; a pass
needs both seeds' tables of every dev task. Score half: ``refresh/w256-{gaps,default,explore}.txt``
(``refresh.sh`` with ``SWEEP=paper-refresh-w256``), the candidate's 95% CI lower end at
least -0.02 against the paper's cadence on every suite (recomputed from the ``.csv`` runs
beside each table; one finished suite below it fails the candidate before the others are in,
as one task above the cost bar does). The first candidate passing both ships; if none
does, the first passing the cost half (rule 3 as amended in stop 33), and the paper's
cadence (f = 1, floor 0) only if none passes it. The answer says which record is missing
when it cannot decide yet. It applies only once the scale rule has shipped w256, and it
refuses (exit 2) a record that is not what the rule declares: a cost table without the
candidate's column, with a task not in the dev suite, or timed on other weights (its
version line), a score table of another number of MDPs, episodes or network, or runs made
with other weights than w256's final export (``progress/w256``). A cost table of some dev
tasks within the bar is not refused: it is not yet a record of a pass ("not decided").
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import re
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from tabulate import tabulate

from rlbench_icl.fm.train import load_config
from rlbench_icl.tuning import paired_interval, parse_runs

HERE = Path(__file__).resolve().parent
# w256's final export: train.sh save keeps the trainer's runs/w256/model.safetensors here
# (the same bytes, committed), so that the rule reads it from a fresh clone too
EXPORT = HERE / "progress" / "w256" / "model.safetensors"
SCALES = {  # width: (its log as committed, its training config)
    64: (HERE / "progress/w64/train_log.jsonl", HERE / "w64.toml"),
    128: (HERE / "progress/w128/train_log.jsonl", HERE / "w128.toml"),
    256: (HERE / "progress/w256/train_log.jsonl", HERE / "w256.toml"),
}
MARGIN = 0.01
LADDER = (4, 8, 16, 32)
SEEDS = (0, 1)
SUITES = ("gaps", "default", "explore")
COST_BAR = 3.0
SCORE_BAR = -0.02
MDPS, EPISODES, FIRST_MDP = 200, 300, 1820
PAPER_CADENCE = "the paper's cadence (f = 1, floor 0)"


def readings(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def recent_range(history: list[dict], count: int = 5) -> str:
    """The last ``count`` validation means, lowest to highest: context for a reader (one
    reading decides; single readings dip by a few hundredths now and then), not the rule."""
    values = [r["val_normalised_value"] for r in history[-count:]]
    return f"{min(values):.4f} - {max(values):.4f}"


def choose_scale(finals: dict[int, float], margin: float = MARGIN) -> int:
    """The smallest width whose final value is within ``margin`` of the best."""
    best = max(finals.values())
    return min(width for width, value in finals.items() if best - value <= margin)


def scale(scales: dict[int, tuple[Path, Path]] = SCALES) -> tuple[list[list], str]:
    rows, finals, unfinished = [], {}, []
    for width, (log, config) in sorted(scales.items()):
        history, steps = readings(log), load_config(config).steps
        reading = history[-1]
        rows.append([f"w{width}", f"{reading['step']:,} of {steps:,}",
                     f"{reading['val_normalised_value']:.4f}", recent_range(history)])
        if reading["step"] < steps:
            unfinished.append(f"w{width} is at step {reading['step']:,} of {steps:,}")
        finals[width] = reading["val_normalised_value"]
    if unfinished:
        return rows, "not decided: " + "; ".join(unfinished)
    return rows, f"w{choose_scale(finals)} ships"


class RecordError(Exception):
    """A record that is not what the declared rule reads: remake it."""


def cost_ratios(table: Path, candidate: str, tasks: set[str] | None = None,
                weights: Path | None = None) -> dict[str, Fraction | float]:
    """Each task's CPU seconds for ``candidate`` over UCB-VI's, from a task_costs table
    (a cell that is not a number, a run stopped or failed, counts as infinitely costly).
    Exact fractions of the printed cells, so that 0.27 s against 0.09 s is 3x, at the bar,
    not a float just above it. ``tasks``: the tasks the table may cover (the dev suite);
    ``weights``: the export the candidate's column must have timed (its version line)."""
    lines = [line for line in table.read_text().splitlines() if line.startswith("|")]
    if len(lines) < 3:
        raise RecordError(f"{table.name}: no table of costs in it")
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    mine = [i for i, name in enumerate(header) if name.endswith(f"{candidate} online")]
    if "ucbvi online" not in header or not mine:
        raise RecordError(f"{table.name}: no 'ucbvi online' and '{candidate} online' "
                          f"columns (columns: {', '.join(header)})")
    if weights is not None:
        check_timed_weights(table, candidate, weights)
    ucbvi, mine = header.index("ucbvi online"), mine[0]
    ratios: dict[str, Fraction | float] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0].startswith("**"):
            continue
        try:
            base = Fraction(cells[ucbvi])
        except ValueError:
            raise RecordError(f"{table.name}: UCB-VI's cell on {cells[0]} is "
                              f"{cells[ucbvi]!r}, not a time") from None
        if base <= 0:
            raise RecordError(f"{table.name}: UCB-VI's time on {cells[0]} is {cells[ucbvi]}")
        try:
            ratios[cells[0]] = Fraction(cells[mine]) / base
        except ValueError:
            ratios[cells[0]] = float("inf")
    if tasks is not None and set(ratios) - tasks:
        raise RecordError(f"{table.name}: not dev tasks: {sorted(set(ratios) - tasks)}")
    return ratios


@functools.lru_cache(maxsize=4)
def digest_of(weights: Path, size: int, mtime_ns: int) -> str:
    """The first 12 hex digits of ``weights``' sha256 (size and mtime key the cache, so a
    re-written export is hashed again)."""
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:12]


def weights_digest(weights: Path) -> str:
    stat = weights.stat()
    return digest_of(weights, stat.st_size, stat.st_mtime_ns)


def check_timed_weights(table: Path, candidate: str, weights: Path) -> None:
    """The table's version line for ``candidate`` (task_costs.py prints one per column)
    names ``weights``' digest: a table timed on other weights (an interim export) is no
    record of the final one."""
    digest = weights_digest(weights)
    marker = f"{candidate} online: version "
    versions = [line.split(marker, 1)[1].strip() for line in table.read_text().splitlines()
                if marker in line]
    if versions != [f"candidate+{digest}"]:
        raise RecordError(f"{table.name}: {candidate} timed "
                          f"{' and '.join(versions) or 'weights it does not name'}, not "
                          f"candidate+{digest} ({weights})")


def read_score_record(table: Path, suite: str, weights: Path) -> dict[tuple, float]:
    """The runs of a score table of the declared setting (MDPs, episodes, network w256),
    read from the ``.csv`` beside it, whose runs must have been made with ``weights``:
    (row, MDP, seed) -> score."""
    first = table.read_text().splitlines()[:1]
    wanted = (f"{MDPS} synthetic tuning MDPs ({suite} suite), 1 seeds, {EPISODES} episodes; "
              f"network {weights.parent.name}")
    if first != [wanted]:
        raise RecordError(f"{table.name}: made as {first[0] if first else 'nothing'!r}, "
                          f"not {wanted!r}")
    runs = table.with_suffix(".csv")
    lines = runs.read_text().splitlines() if runs.exists() else []
    digest = weights_digest(weights)
    wanted = (f"# tune_fm runs: sweep=paper-refresh-w256 suite={suite} episodes={EPISODES} "
              f"checkpoint={digest}")
    if lines[:1] != [wanted]:
        raise RecordError(f"{runs.name}: made as {lines[0] if lines else 'nothing'!r}"
                          f", not {wanted!r} (other weights than {weights}?)")
    try:
        return parse_runs(lines[2:], runs.name)
    except ValueError as exc:
        raise RecordError(str(exc)) from None


def paired_lower_ends(table: Path) -> dict[int, float]:
    """Each row's 95% CI lower end against row 0, from a tune_fm.py table."""
    paired = table.read_text().split("Paired against row 0", 1)[1]
    lows = {}
    for line in paired.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            lows[int(cells[0])] = float(re.match(r"\[([-+0-9.]+),", cells[-1])[1])
    return lows


def exact_lower_end(table: Path, scores: dict[tuple, float], row: int) -> float | None:
    """``row``'s 95% CI lower end against row 0, recomputed from the table's runs
    (``scores``; the table prints it to 4 decimals: -0.02004 would read as -0.0200); None if
    the table has no such row. Refuses runs that lack one of the rule's runs of either row or
    that disagree with the table."""
    printed = paired_lower_ends(table).get(row)
    if printed is None:
        return None
    mdps = range(FIRST_MDP, FIRST_MDP + MDPS)
    missing = [(r, m) for r in (0, row) for m in mdps if (r, m, 0) not in scores]
    if missing:
        raise RecordError(f"{table.with_suffix('.csv').name}: {len(missing)} of the rule's "
                          f"runs are missing (e.g. row {missing[0][0]}, MDP {missing[0][1]}, "
                          "seed 0)")
    differences = np.array([scores[(row, m, 0)] - scores[(0, m, 0)] for m in mdps])
    low = paired_interval(differences[:, None])[1]
    if abs(low - printed) > 5e-5:
        raise RecordError(f"{table.name} prints {printed:+.4f} for row {row}, its runs give "
                          f"{low:+.6f}")
    return low


def cadence(records: Path = HERE, scales: dict[int, tuple[Path, Path]] = SCALES,
            weights: Path = EXPORT, dev_tasks: set[str] | None = None
            ) -> tuple[list[list], str]:
    """The cadence rule on the records under ``records``; ``dev_tasks``: the tasks every cost
    table must cover (default: the registry's dev suite). Raises ``RecordError``."""
    shipped = scale(scales)[1]
    if shipped != "w256 ships":
        return [], f"not applicable until the scale rule ships w256 ({shipped})"
    if dev_tasks is None:
        from rlbench_icl import load_registry

        dev_tasks = set(load_registry().select("dev"))
    rows, decision, passed_cost, affordable = [], None, [], None
    affordable_unscored: list[str] | None = None  # the first affordable one's missing suites
    score_tables = {suite: records / "refresh" / f"w256-{suite}.txt" for suite in SUITES}
    scores: dict[str, dict] = {}  # each suite's runs, read once, when first needed
    for row, f in enumerate(LADDER, start=1):
        name = f"w256-f{f}m1"
        tables = [records / f"costs-{name}-dev-seed{s}.txt" for s in SEEDS]
        timed = {t: cost_ratios(t, name, dev_tasks, weights) for t in tables if t.exists()}
        worst = max((kv for ratios in timed.values() for kv in ratios.items()),
                    key=lambda kv: kv[1], default=None)
        if worst is not None and worst[1] > COST_BAR:  # one task above the bar fails it
            rows.append([name, f"fails ({float(worst[1]):.2f}x on {worst[0]})", "-"])
            continue
        partial = [t.name for t, ratios in timed.items() if set(ratios) != dev_tasks]
        if partial:  # within the bar on some tasks: a pass needs them all
            rows.append([name, "partly timed, within 3x", "-"])
            decision = decision or (f"not decided: {partial[0]} covers only some dev tasks "
                                    f"(cost half of {name}: time every dev task)")
            continue
        if len(timed) < len(tables):
            missing = next(t.name for t in tables if t not in timed)
            rows.append([name, "not run", "-"])
            decision = decision or f"not decided: {missing} is missing (cost half of {name})"
            continue
        passed_cost.append(str(row))
        affordable = affordable or f"{name} (f = {f}, floor 1)"
        for suite, table in score_tables.items():
            if suite not in scores and table.exists():
                scores[suite] = read_score_record(table, suite, weights)
        lows = [exact_lower_end(score_tables[s], scores[s], row) if s in scores else None
                for s in SUITES]
        unscored = [s for s, low in zip(SUITES, lows, strict=True) if low is None]
        failed = any(low is not None and low < SCORE_BAR for low in lows)
        rows.append([name, f"passes ({float(worst[1]):.2f}x)", score_cell(lows, failed)])
        if affordable_unscored is None:
            affordable_unscored = unscored
        if unscored and not failed:  # one suite below the bar fails it, whatever the rest
            decision = decision or (f"not decided: {name}'s score on {unscored[0]} is "
                                    f"missing ({refresh_command(passed_cost)})")
        elif not failed:
            decision = decision or f"{name} ships (f = {f}, floor 1)"
    if decision:
        return rows, decision
    if affordable:
        report = (f"; its score on {', '.join(affordable_unscored)} is still to be made, to "
                  f"report beside it ({refresh_command(passed_cost)})"
                  if affordable_unscored else "")
        return rows, (f"no candidate passes both halves: {affordable} ships, the first within "
                      f"the cost bar (rule 3){report}")
    return rows, f"no candidate passes the cost half: {PAPER_CADENCE} ships"


def refresh_command(rows: list[str]) -> str:
    """How to make the missing score records: the paper's cadence and every candidate
    that passed the cost half so far."""
    return f"refresh.sh with ROWS=0,{','.join(rows)}"


def score_cell(lows: list[float | None], failed: bool) -> str:
    """A candidate's CI lower end per suite, and its verdict once one is below the bar or
    every suite is in."""
    cell = ", ".join(f"{s} {low:+.5f}" if low is not None else f"{s}: not run"
                     for s, low in zip(SUITES, lows, strict=True))
    if failed:
        return cell + " (fails)"
    return cell + ("" if None in lows else " (passes)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rule", choices=("scale", "cadence"))
    args = parser.parse_args(argv)
    if args.rule == "scale":
        rows, decision = scale()
        print(tabulate(rows, headers=["scale", "steps", "last validation mean",
                                      "last 5 readings (not the rule)"],
                       tablefmt="github", disable_numparse=True))
    else:
        try:
            rows, decision = cadence()
        except RecordError as exc:
            print(f"invalid record: {exc}: remake it as the README says", file=sys.stderr)
            sys.exit(2)
        if rows:
            print(tabulate(rows, headers=["candidate", "cost (worst dev task)",
                                          "score: CI lower end per suite"],
                           tablefmt="github", disable_numparse=True))
    print(f"\n{decision}")


if __name__ == "__main__":
    main()
