"""What a learned model adds over its own inputs: P(model > inputs) with its CI.

The pairs are data (``model_inputs.toml`` beside this module): each learned model and the
submission that acts on the hand-computed features it reads, with no learning. For every
suite and protocol where both are ranked, the table gives the probability of improvement of
the model over its inputs and both IQMs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import scoring, store
from .entries import Ranked, stream_id
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


def load_pairs(path: Path = PAIRS_FILE) -> list[tuple[str, str]]:
    """(model, inputs) submission names."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return [(pair["model"], pair["inputs"]) for pair in data["pair"]]


def write_inputs_table(out: Path, ranked: dict[str, list[Ranked]],
                       bootstrap: scoring.BootstrapConfig,
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
                poi = scoring.probability_of_improvement_with_ci(
                    m.matrix, i.matrix, bootstrap, stream_id(where, model, "inputs", inputs))
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
