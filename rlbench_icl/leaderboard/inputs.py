"""What a learned model adds over its own inputs: P(model > inputs) with its CI, and the
ablation table.

The pairs are data (``model_inputs.toml`` beside this module): each learned model and the
submission that acts on the hand-computed features it reads, with no learning. For every
suite and protocol where both are ranked, the table gives the probability of improvement of
the model over its inputs and both IQMs. The ablation table (declared in the same file) puts
the paper-faithful model, the planner alone, planner plus network and the classical
baselines side by side: IQM with its CI on every suite and protocol, from the same runs as
the rankings.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import store
from .entries import Ranked, improvement, stream_id
from .render import (
    csv_interval,
    csv_number,
    csv_text,
    fmt,
    fmt_ci,
    interval_headers,
    markdown_table,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PAIRS_FILE = Path(__file__).resolve().parent / "model_inputs.toml"


def _declared(path: Path) -> dict:
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def load_pairs(path: Path = PAIRS_FILE) -> list[tuple[str, str]]:
    """(model, inputs) submission names."""
    return [(pair["model"], pair["inputs"]) for pair in _declared(path)["pair"]]


def load_ablation(path: Path = PAIRS_FILE) -> list[tuple[str, str]]:
    """(submission, role) rows of the ablation table, in order."""
    return [(row["submission"], row["role"]) for row in _declared(path)["ablation"]["rows"]]


ABLATION_COLUMNS = ("dev online", "test online", "dev offline", "test offline")


def write_ablation_table(out: Path, ranked: dict[str, list[Ranked]],
                         rows: list[tuple[str, str]] | None = None) -> str:
    """``ablation.csv`` from ``{"<dev|test> <protocol>": ranked entries}``: each declared
    submission's IQM [95% CI] where it is ranked ("—" where it is not, e.g. an offline
    column of an online-only agent); returns the front page's section ("" if none is
    ranked anywhere)."""
    columns = [c for c in ABLATION_COLUMNS if c in ranked]
    by_where = {c: {r.entry.name: r for r in ranked[c]} for c in columns}
    table, csv_rows = [], []
    for name, role in rows if rows is not None else load_ablation():
        cells = [by_where[c].get(name) for c in columns]
        if not any(cells):
            continue
        table.append([role, name, *(fmt_ci(*r.aggregates["IQM"]) if r else "—"
                                    for r in cells)])
        csv_rows.append([role, name, *(v for r in cells for v in csv_interval(
            r.aggregates["IQM"] if r else None))])
    if not table:
        return ""
    store.write_atomic(out / "ablation.csv", csv_text(
        csv_rows, ["role", "submission", *(h for c in columns
                                           for h in interval_headers(f"IQM {c}"))]))
    return ("## Ablation: what each part of the foundation model adds\n\nIQM [95% CI] of "
            "the paper-faithful model (the statistic alone), gnn-fm's planner inputs "
            "acted on alone, the planner plus network, and the classical baselines, from "
            "the runs ranked below (\"—\": not ranked there).\n\n"
            + markdown_table(table, ["role", "submission", *(f"IQM {c}" for c in columns)])
            + "\n")


def write_inputs_table(out: Path, ranked: dict[str, list[Ranked]],
                       pairs: list[tuple[str, str]] | None = None) -> str:
    """``model_vs_inputs.csv`` from ``{"<suite> <protocol>": ranked entries}``; returns the
    front page's section ("" if no pair has both sides ranked anywhere)."""
    headers = ["model", "its inputs alone", "suite, protocol", "IQM model", "IQM inputs",
               "P(model > inputs) [95% CI]"]
    rows, csv_rows = [], []
    for model, inputs in pairs if pairs is not None else load_pairs():
        for where, entries in ranked.items():
            by_name = {r.entry.name: r for r in entries}
            if model in by_name and inputs in by_name:
                m, i = by_name[model], by_name[inputs]
                poi = improvement(m, i, stream_id(where, model, "inputs", inputs))
                rows.append([model, inputs, where, fmt(m.aggregates["IQM"][0]),
                             fmt(i.aggregates["IQM"][0]), fmt_ci(*poi)])
                csv_rows.append([model, inputs, where, csv_number(m.aggregates["IQM"][0]),
                                 csv_number(i.aggregates["IQM"][0]), *csv_interval(poi)])
    if not rows:
        return ""
    store.write_atomic(out / "model_vs_inputs.csv", csv_text(
        csv_rows, headers[:-1] + interval_headers("P(model > inputs)")))
    return ("## What the network adds over its own inputs\n\nEach learned model against a "
            "submission that acts on the features it reads, with no learning.\n\n"
            + markdown_table(rows, headers) + "\n")
