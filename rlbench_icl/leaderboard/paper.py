"""The paper-reproduction table: median episodes-to-solve on the paper's tasks.

Its tasks and the reference rows of an independent re-run of the paper's baselines are data,
in ``paper_reference.toml`` beside this module.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .. import store
from .render import csv_text, escape_markdown, markdown_table, median_episodes
from .results import Results

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REFERENCE_FILE = Path(__file__).resolve().parent / "paper_reference.toml"

INTRO = ("## Paper reproduction: median episodes-to-solve\n\n"
         "The paper's three tasks under its protocol (Zighem & Vie 2026; 50-step episodes, "
         "gamma 0.95): the first episode of 8 consecutive ones whose exploitation policy "
         "scores >= 0.95, median over seeds (n = seeds); a run that never solves counts "
         "as one past the budget, so a median of such runs shows as \"> 1500\". "
         "The last rows are reference figures from an independent re-run "
         "of the paper's baselines (12 seeds), not produced by this harness.\n\n")


@dataclass(frozen=True)
class PaperReference:
    """The paper's tasks (in column order) and the reference rows: (label, one median
    episodes-to-solve per task)."""

    tasks: list[str]
    rows: list[tuple[str, list[int]]]


def load_paper_reference(path: Path = REFERENCE_FILE) -> PaperReference:
    """The reference file; raises ``ValueError`` if a row does not cover exactly the tasks."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    tasks = list(data["tasks"])
    rows = []
    for row in data["reference"]:
        medians = row["median_episodes_to_solve"]
        if sorted(medians) != sorted(tasks):
            raise ValueError(f"{path}: reference {row['label']!r} gives {sorted(medians)}, "
                             f"not the tasks {tasks}")
        rows.append((row["label"], [medians[t] for t in tasks]))
    return PaperReference(tasks, rows)


def write_paper_table(out: Path, results: Results, reference: PaperReference) -> str:
    """``paper_reproduction.csv``: every online submission with a successful run of a paper
    task, then the reference rows; returns the front page's section."""
    headers = ["submission"] + reference.tasks
    rows = []
    for (protocol, name), records in sorted(results.records.items()):
        if protocol != "online":
            continue
        cells = [_median_solve([r for r in records
                                if r["task"]["id"] == task and r["status"] == "ok"])
                 for task in reference.tasks]
        if any(c != "—" for c in cells):
            rows.append([escape_markdown(name)] + cells)
    rows += [[label] + [str(v) for v in values] for label, values in reference.rows]
    store.write_atomic(out / "paper_reproduction.csv", csv_text(rows, headers))
    return INTRO + markdown_table(rows, headers) + "\n"


def _median_solve(runs: list[dict]) -> str:
    """``median (n=runs)`` of episodes-to-solve, unsolved runs at budget + 1; "—" if none."""
    if not runs:
        return "—"
    budget = runs[0]["settings"]["num_episodes"]
    values = [r["result"]["scores"]["episodes_to_solve"] or budget + 1 for r in runs]
    return f"{median_episodes(values, budget)} (n={len(runs)})"
