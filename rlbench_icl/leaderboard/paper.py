"""The paper-reproduction table: median episodes-to-solve on the paper's tasks.

Its tasks and the reference rows of an independent re-run of the paper's baselines are data,
in ``paper_reference.toml`` beside this module.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .. import store
from .render import csv_text, escape_markdown, markdown_table, median_episodes, median_number
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
    rows, csv_rows = [], []
    for (protocol, name), records in sorted(results.records.items()):
        if protocol != "online":
            continue
        solved = [_solve_episodes([r for r in records
                                   if r["task"]["id"] == task and r["status"] == "ok"])
                  for task in reference.tasks]
        if any(solved):
            rows.append([escape_markdown(name)] + [
                f"{median_episodes(v, b)} (n={len(v)})" if v else "—" for b, v in solved])
            csv_rows.append([name, ""] + [c for _, v in solved for c in (
                (median_number(v), str(len(v))) if v else ("", ""))])
    rows += [[label] + [str(v) for v in values] for label, values in reference.rows]
    csv_rows += [[label, "yes"] + [c for v in values for c in (str(v), "")]
                 for label, values in reference.rows]
    store.write_atomic(out / "paper_reproduction.csv", csv_text(
        csv_rows, ["submission", "reference"] + [h for t in reference.tasks
                                                 for h in (t, f"{t} n")]))
    return INTRO + markdown_table(rows, headers) + "\n"


def _solve_episodes(runs: list[dict]) -> tuple[int, list[int]] | None:
    """The budget and each run's episodes-to-solve (budget + 1 if unsolved); None if no
    run."""
    if not runs:
        return None
    budget = runs[0]["settings"]["num_episodes"]
    return budget, [r["result"]["scores"]["episodes_to_solve"] or budget + 1 for r in runs]
