"""The ranking on the test suite: families as strata, and each submission's dev->test gap.

Test instances are grouped by family: a score matrix has one column per family and one row
per (instance, seed), so the stratified bootstrap resamples instances and seeds within each
family and every family weighs the same. A submission is ranked on test only if it has
every run of the test grid (every instance x seeds 0..N-1). Its dev->test gap is its IQM on
the dev suite minus its IQM on test, with a CI from bootstrapping both: how much of its dev
score does not carry over to fresh instances.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import scoring, store
from ..families import INSTANCE_ID
from ..protocols import SCORE_KEY
from .entries import Entry, Ranked, stream_id
from .render import csv_text, escape_markdown, fmt, fmt_ci, markdown_table
from .tables import gap_note

TEST_TITLES = {
    "online": "Test suite, online: mean normalised return over the episode budget",
    "offline": "Test suite, offline: exact normalised value of the returned policy",
}


def family_of(task_id: str) -> str:
    match = INSTANCE_ID.match(task_id)
    if match is None:
        raise ValueError(f"{task_id} is not a family instance: a test suite holds instances")
    return match["family"]


def family_matrix(entry: Entry, protocol: str) -> tuple[list[str], np.ndarray]:
    """The families (sorted) and the (instances x seeds, families) scores of a complete
    entry; every family must have as many instances."""
    by_key = {(r["task"]["id"], r["seed"]): r["result"]["scores"][SCORE_KEY[protocol]]
              for r in entry.records}
    families = sorted({family_of(t) for t in entry.tasks})
    columns = [[by_key[(t, s)] for t in entry.tasks if family_of(t) == f for s in entry.seeds]
               for f in families]
    if len({len(c) for c in columns}) != 1:
        raise ValueError("every family of a test suite needs as many instances")
    return families, np.array(columns).T


def rank_test(entries: list[Entry], protocol: str, bootstrap: scoring.BootstrapConfig
              ) -> list[Ranked]:
    """The complete entries on the test grid, best IQM first (ties by name)."""
    ranked = []
    for e in entries:
        if e.complete:
            matrix = family_matrix(e, protocol)[1]
            ranked.append(Ranked(e, matrix, scoring.aggregate_with_ci(
                matrix, bootstrap, stream_id(protocol, e.name, "test"))))
    return sorted(ranked, key=lambda r: (-r.aggregates["IQM"][0], r.entry.name))


def write_test_table(out: Path, protocol: str, entries: list[Entry], ranked: list[Ranked],
                     dev: dict[str, Ranked], base: Ranked | None,
                     bootstrap: scoring.BootstrapConfig, verified: dict[str, str]) -> str:
    """``<protocol>_test_leaderboard.csv``: the test ranking with each entry's dev IQM and
    dev->test gap; returns the front page's section."""
    headers = ["rank", "submission", "test IQM [95% CI]", "median", "mean", "optimality gap",
               f"P(> {base.entry.name if base else 'baseline'}) [95% CI]", "dev IQM",
               "dev→test gap [95% CI]", "runs", "verified"]
    rows = [_test_row(rank, r, protocol, dev.get(r.entry.name), base, bootstrap, verified)
            for rank, r in enumerate(ranked, start=1)]
    rows += [["—", escape_markdown(e.name) + " (incomplete)", gap_note(e, brief=True), "—",
              "—", "—", "—", "—", "—", str(len(e.records)), verified[e.name]]
             for e in entries if not e.complete]
    store.write_atomic(out / f"{protocol}_test_leaderboard.csv",
                       csv_text([[c.replace("\\", "") for c in row] for row in rows], headers))
    return f"## {TEST_TITLES[protocol]}\n\n{markdown_table(rows, headers)}\n"


def _test_row(rank: int, r: Ranked, protocol: str, dev: Ranked | None, base: Ranked | None,
              bootstrap: scoring.BootstrapConfig, verified: dict[str, str]) -> list[str]:
    a, name = r.aggregates, r.entry.name
    poi = gap = dev_iqm = "—"
    if base is not None and r is not base:
        poi = fmt_ci(*scoring.probability_of_improvement_with_ci(
            r.matrix, base.matrix, bootstrap, stream_id(protocol, name, "test-poi")))
    if dev is not None:
        dev_iqm = fmt(dev.aggregates["IQM"][0])
        gap = fmt_ci(*scoring.iqm_difference_with_ci(
            dev.matrix, r.matrix, bootstrap, stream_id(protocol, name, "dev-test")))
    return [str(rank), escape_markdown(name), fmt_ci(*a["IQM"]), fmt(a["median"][0]),
            fmt(a["mean"][0]), fmt(a["optimality gap"][0]), poi, dev_iqm, gap,
            str(r.matrix.size), verified[name]]


def write_family_table(out: Path, protocol: str, ranked: list[Ranked],
                       bootstrap: scoring.BootstrapConfig) -> str:
    """``<protocol>_test_families.csv``: per family, each entry's mean over its instances
    and seeds, with a bootstrap CI; returns the front page's section."""
    if not ranked:
        return ""
    families = family_matrix(ranked[0].entry, protocol)[0]
    headers = ["family"] + [escape_markdown(r.entry.name) for r in ranked]
    rows = []
    for j, family in enumerate(families):
        row = [family]
        for r in ranked:
            column = r.matrix[:, j]
            boot = scoring.stratified_resamples(column[:, None], bootstrap,
                                                stream_id(protocol, r.entry.name, family))
            row.append(fmt_ci(column.mean(), *scoring.interval(boot.mean(axis=(1, 2)),
                                                              bootstrap.confidence)))
        rows.append(row)
    store.write_atomic(out / f"{protocol}_test_families.csv",
                       csv_text([[c.replace("\\", "") for c in row] for row in rows], headers))
    return (f"### Test suite, {protocol}, per family: mean over instances and seeds "
            f"[95% CI]\n\n{markdown_table(rows, headers)}\n")
