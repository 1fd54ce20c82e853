"""The long scores table: one row per scored unit of every accepted result.

A row is one (submission, protocol, task, seed) run, and on the offline protocol one
(dataset size, behaviour epsilon) cell of it, since each cell is scored on its own. Failed
runs keep one row with ``status = "failed"`` and no score, so nothing a submission ran is
invisible. Scores are the rescored ones of ``results.load_results``: the registry's exact
values decide them, never a stored scalar.

Columns (``LONG_COLUMNS``; None where a column does not apply):

- ``submission``, ``version``: the submission's name and declared version;
- ``protocol``: ``online`` or ``offline``;
- ``task``, ``family``: the task id, and its family for a family instance (else None);
- ``seed``: the run's seed;
- ``dataset_episodes``, ``epsilon``: an offline cell's dataset size and behaviour (the
  epsilon-mixture of the optimal and the uniform policy; 1.0 is uniform random);
- ``status``: ``ok`` or ``failed``;
- ``score``: the normalised score (1 = optimal, 0 = uniform random): online, the mean
  normalised return over the episode budget; offline, the normalised value of the policy;
- ``value``: offline, the exact value of the returned policy; online, None;
- ``final_score``, ``cumulative_regret``: online only, the mean normalised return over the
  last 10% of episodes and the sum of (V* - G_k).
"""

from __future__ import annotations

from pathlib import Path

from .. import store
from ..families import INSTANCE_ID
from .render import csv_text
from .results import Results

LONG_COLUMNS = ("submission", "version", "protocol", "task", "family", "seed",
                "dataset_episodes", "epsilon", "status", "score", "value", "final_score",
                "cumulative_regret")
FLOAT_DIGITS = 10
"""Significant digits of a float in ``scores.csv``: stable across platforms, far finer than
any interval."""


def long_scores(results: Results) -> list[dict]:
    """The long table of ``results`` (see the module docstring), as dicts keyed by
    ``LONG_COLUMNS``, sorted by (submission, protocol, task, seed) with a run's offline
    cells in their stored order."""
    rows = []
    for _, records in sorted(results.records.items(), key=lambda item: item[0][::-1]):
        for record in sorted(records, key=lambda r: (r["task"]["id"], r["seed"])):
            rows += _rows(record)
    return rows


def _rows(record: dict) -> list[dict]:
    task = record["task"]["id"]
    family = INSTANCE_ID.match(task)
    base = dict.fromkeys(LONG_COLUMNS)
    base.update(submission=record["submission"]["name"],
                version=record["submission"]["version"], protocol=record["protocol"],
                task=task, family=family["family"] if family else None,
                seed=record["seed"], status=record["status"])
    if record["status"] != "ok":
        return [base]
    result = record["result"]
    if record["protocol"] == "online":
        scores = result["scores"]
        return [{**base, "score": scores["online_score"],
                 "final_score": scores["final_score"],
                 "cumulative_regret": scores["cumulative_regret"]}]
    return [{**base, "dataset_episodes": c["dataset_episodes"], "epsilon": c["epsilon"],
             "score": c["normalised_value"], "value": c["value"]} for c in result["cells"]]


def write_long_scores(out: Path, rows: list[dict]) -> None:
    """``scores.csv``: the rows of ``long_scores``; None is an empty cell."""
    store.write_atomic(Path(out) / "scores.csv", csv_text(
        [[_cell(row[c]) for c in LONG_COLUMNS] for row in rows], list(LONG_COLUMNS)))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{FLOAT_DIGITS}g}"
    return str(value)
