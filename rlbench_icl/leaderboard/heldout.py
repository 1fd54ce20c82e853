"""The ranking on the test suite: families as strata, and each submission's dev->test gap.

Test instances are grouped by family: a score matrix has one column per family and one row
per (instance, seed), instance by instance. The instances are what the test suite samples
from each family, and one instance's seeds are not independent of each other, so every
interval of the test ranking draws a family's instances with replacement, each with all of
its seeds (``instance_bootstrap``), stratified by family: every family weighs the same.
(Drawing the cells one by one, as on the dev suite, gave intervals 1.3-1.65x narrower:
``experiments/test_ci/clusters.py``.) A submission is ranked on test only if it has
every run of the test grid (every instance x seeds 0..N-1). Its dev->test gap is its IQM on
the dev suite minus its IQM on test, with a CI from bootstrapping both: how much of its dev
score does not carry over to fresh instances.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import scoring, store
from ..families import INSTANCE_ID
from ..protocols import SCORE_KEY
from .entries import Entry, Ranked, common_sizes, seed_mean_ci, stream_id
from .render import (
    csv_interval,
    csv_number,
    csv_text,
    escape_markdown,
    fmt,
    fmt_ci,
    interval_headers,
    markdown_table,
)
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


def family_matrix(entry: Entry, protocol: str, value: Callable[[dict], float] | None = None
                  ) -> tuple[list[str], np.ndarray]:
    """The families (sorted) and the (instances x seeds, families) scores of a complete
    entry (or ``value`` of each record); every family must have as many instances."""
    if value is None:
        def value(record: dict) -> float:
            return record["result"]["scores"][SCORE_KEY[protocol]]
    by_key = {(r["task"]["id"], r["seed"]): value(r) for r in entry.records}
    families = sorted({family_of(t) for t in entry.tasks})
    columns = [[by_key[(t, s)] for t in entry.tasks if family_of(t) == f for s in entry.seeds]
               for f in families]
    if len({len(c) for c in columns}) != 1:
        raise ValueError("every family of a test suite needs as many instances")
    return families, np.array(columns).T


def instance_bootstrap(bootstrap: scoring.BootstrapConfig, seeds: int
                       ) -> scoring.BootstrapConfig:
    """``bootstrap`` drawing a family's instances whole, with their ``seeds`` runs."""
    return dataclasses.replace(bootstrap, cluster=seeds, method=INSTANCE_METHOD)


INSTANCE_METHOD = ("stratified bootstrap over families, each family's instances drawn with "
                   "all their seeds, percentile")


def rank_test(entries: list[Entry], protocol: str, bootstrap: scoring.BootstrapConfig
              ) -> list[Ranked]:
    """The complete entries on the test grid, best IQM first (ties by name)."""
    ranked = []
    for e in entries:
        if e.complete:
            matrix = family_matrix(e, protocol)[1]
            config = instance_bootstrap(bootstrap, len(e.seeds))
            ranked.append(Ranked(e, matrix, scoring.aggregate_with_ci(
                matrix, config, stream_id(protocol, e.name, "test")), config))
    return sorted(ranked, key=lambda r: (-r.aggregates["IQM"][0], r.entry.name))


def write_test_table(out: Path, protocol: str, entries: list[Entry], ranked: list[Ranked],
                     dev: dict[str, Ranked], base: Ranked | None,
                     poi: dict[str, tuple[float, float, float]],
                     verified: dict[str, str]) -> str:
    """``<protocol>_test_leaderboard.csv``: the test ranking with P(X > ``base``) from
    ``poi`` and each entry's dev IQM and dev->test gap; returns the front page's section."""
    poi_name = f"P(> {base.entry.name if base else 'baseline'})"
    headers = ["rank", "submission", "test IQM [95% CI]", "median", "mean", "optimality gap",
               f"{poi_name} [95% CI]", "dev IQM", "dev→test gap [95% CI]", "runs", "verified"]
    csv_headers = ["rank", "submission", "status", *interval_headers("test IQM"), "median",
                   "mean", "optimality gap", *interval_headers(poi_name), "dev IQM",
                   *interval_headers("dev→test gap"), "runs", "verified", "note"]
    rows, csv_rows = [], []
    for rank, r in enumerate(ranked, start=1):
        a, name = r.aggregates, r.entry.name
        d = dev.get(name)
        gap = None if d is None else scoring.iqm_difference_with_ci(
            d.matrix, r.matrix, d.bootstrap, stream_id(protocol, name, "dev-test"),
            r.bootstrap)
        rows.append([str(rank), escape_markdown(name), fmt_ci(*a["IQM"]), fmt(a["median"][0]),
                     fmt(a["mean"][0]), fmt(a["optimality gap"][0]),
                     fmt_ci(*poi[name]) if name in poi else "—",
                     fmt(d.aggregates["IQM"][0]) if d else "—", fmt_ci(*gap) if gap else "—",
                     str(r.matrix.size), verified[name]])
        csv_rows.append([str(rank), name, "ranked", *csv_interval(a["IQM"]),
                         *(csv_number(a[k][0]) for k in ("median", "mean", "optimality gap")),
                         *csv_interval(poi.get(name)),
                         csv_number(d.aggregates["IQM"][0] if d else None), *csv_interval(gap),
                         str(r.matrix.size), verified[name], ""])
    for e in entries:
        if not e.complete:
            rows.append(["—", escape_markdown(e.name) + f" ({e.status})", gap_note(e, brief=True),
                         "—", "—", "—", "—", "—", "—", str(len(e.records)), verified[e.name]])
            csv_rows.append(["", e.name, e.status, *csv_interval(None), "", "", "",
                             *csv_interval(None), "", *csv_interval(None), str(len(e.records)),
                             verified[e.name], gap_note(e)])
    store.write_atomic(out / f"{protocol}_test_leaderboard.csv", csv_text(csv_rows, csv_headers))
    return f"## {TEST_TITLES[protocol]}\n\n{markdown_table(rows, headers)}\n"


def family_size_iqms(ranked: list[Ranked]
                     ) -> tuple[list[int], list[list[tuple[float, float, float]]]]:
    """``entries.offline_size_iqms`` on the test suite, with its families as strata: at each
    dataset size every ranked run has, each entry's IQM over the (instances x seeds,
    families) matrix of its runs' mean normalised value over behaviours at that size."""
    if not ranked:
        return [], []
    sizes = common_sizes(ranked)

    def at(size: int) -> Callable[[dict], float]:
        return lambda record: float(np.mean([c["normalised_value"]
                                             for c in record["result"]["cells"]
                                             if c["dataset_episodes"] == size]))

    return sizes, [[scoring.iqm_with_ci(family_matrix(r.entry, "offline", at(n))[1],
                                        r.bootstrap,
                                        stream_id("offline", r.entry.name, "test", str(n)))
                    for n in sizes] for r in ranked]


def family_means(ranked: list[Ranked], protocol: str
                 ) -> tuple[list[str], list[list[tuple[float, float, float]]]]:
    """The families and, per family, each ranked entry's mean over its instances and seeds
    with a bootstrap CI (instances drawn whole)."""
    if not ranked:
        return [], []
    families = family_matrix(ranked[0].entry, protocol)[0]
    return families, [[seed_mean_ci(r.matrix[:, j], r.bootstrap,
                                    stream_id(protocol, r.entry.name, family))
                       for r in ranked] for j, family in enumerate(families)]


def write_family_table(out: Path, protocol: str, ranked: list[Ranked],
                       means: tuple[list[str], list[list[tuple[float, float, float]]]]) -> str:
    """``<protocol>_test_families.csv`` from ``family_means``; returns the front page's
    section."""
    if not ranked:
        return ""
    families, cells = means
    names = [r.entry.name for r in ranked]
    rows = [[f] + [fmt_ci(*ci) for ci in row] for f, row in zip(families, cells, strict=True)]
    csv_rows = [[f] + [c for ci in row for c in csv_interval(ci)]
                for f, row in zip(families, cells, strict=True)]
    store.write_atomic(out / f"{protocol}_test_families.csv", csv_text(
        csv_rows, ["family"] + [h for n in names for h in interval_headers(n)]))
    return (f"### Test suite, {protocol}, per family: mean over instances and seeds "
            f"[95% CI]\n\n"
            f"{markdown_table(rows, ['family'] + [escape_markdown(n) for n in names])}\n")
