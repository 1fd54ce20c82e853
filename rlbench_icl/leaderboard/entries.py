"""From accepted records to ranked entries: score matrices, aggregates, the ranking.

A submission is ranked on a protocol only if none of its runs failed or was refused and some
seeds have a run on every task of the suite (ranking uses those seeds); otherwise it is listed
as incomplete. Every bootstrap draws from its own stream, keyed by (protocol, submission,
...), so an entry's own intervals do not depend on which other submissions are stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import scoring
from ..protocols import SCORE_KEY
from ..tasks import Task
from .results import Results

NOT_BASELINES = ("random", "gnn-fm")
"""Submissions never taken as the reference baseline of the P(> X) column by default."""


@dataclass
class Entry:
    """One submission on one protocol."""

    name: str
    metadata: dict
    records: list[dict]
    tasks: list[str]
    seeds: list[int]
    complete: bool
    failed: int
    missing: int
    harness_versions: list[str]
    num_records: int = 0


@dataclass
class Ranked:
    """A complete entry with its score matrix and aggregates."""

    entry: Entry
    matrix: np.ndarray
    aggregates: dict[str, tuple[float, float, float]]


def make_entries(results: Results, protocol: str, suite: list[str]) -> list[Entry]:
    """Entries of a protocol. Ranking uses the seeds every suite task has a run for (a task
    may have more, e.g. the paper's 12 seeds); any failed run makes the entry incomplete."""
    entries = []
    for (proto, name), records in sorted(results.records.items()):
        records = [r for r in records if r["task"]["id"] in suite]
        if proto != protocol or not records:
            continue
        by_task = {t: {r["seed"] for r in records if r["task"]["id"] == t} for t in suite}
        common = set.intersection(*by_task.values())
        every = set.union(*by_task.values())
        failed = sum(r["status"] != "ok" for r in records) + _refused_count(results, name,
                                                                             protocol)
        missing = sum(len(every - seeds) for seeds in by_task.values())
        used = [r for r in records if r["seed"] in common]
        entries.append(Entry(name, records[0]["submission"], used, suite, sorted(common),
                             complete=bool(common) and failed == 0, failed=failed,
                             missing=missing,
                             harness_versions=sorted({r["harness_version"] for r in records}),
                             num_records=len(records)))
    return entries


def _refused_count(results: Results, name: str, protocol: str) -> int:
    """Refused files filed under this submission and protocol (by their path)."""
    return sum(Path(path).parts[:2] == (name, protocol) for path, _ in results.refused)


def score_matrix(entry: Entry, protocol: str) -> np.ndarray:
    """(runs, tasks) normalised scores of a complete entry."""
    by_key = {(r["task"]["id"], r["seed"]): r for r in entry.records}
    return np.array([[by_key[(t, s)]["result"]["scores"][SCORE_KEY[protocol]]
                      for t in entry.tasks] for s in entry.seeds])


def offline_matrix(entry: Entry, size: int) -> np.ndarray:
    """(runs, task x epsilon) normalised values at one dataset size."""
    by_key = {(r["task"]["id"], r["seed"]): r for r in entry.records}
    return size_matrix([[by_key[(t, s)]["result"]["cells"] for t in entry.tasks]
                        for s in entry.seeds], size)


def size_matrix(cells: list[list[list[dict]]], size: int) -> np.ndarray:
    """(seeds, task x epsilon) normalised values at one dataset size, from the offline cells
    of each seed's run of each task (``cells[seed][task]``)."""
    return np.array([[c["normalised_value"] for task_cells in seed_cells for c in task_cells
                      if c["dataset_episodes"] == size] for seed_cells in cells])


def curve_array(entry: Entry, key: str, fractions: np.ndarray, tasks: dict[str, Task]
                ) -> np.ndarray | None:
    """(runs, tasks, points) normalised ``key`` values ("returns" or "policy_values") at
    fractions of each task's budget; None if some run did not record them."""
    by_key = {(r["task"]["id"], r["seed"]): r for r in entry.records}
    out = np.empty((len(entry.seeds), len(entry.tasks), len(fractions)))
    for i, s in enumerate(entry.seeds):
        for j, t in enumerate(entry.tasks):
            values = by_key[(t, s)]["result"]["episodes"][key]
            if values is None:
                return None
            normalised = (tasks[t].normalise_return(values) if key == "returns"
                          else tasks[t].normalise(values))
            out[i, j] = normalised[(fractions * len(values)).astype(int)]
    return out


def stream_id(*parts: str) -> int:
    """A bootstrap stream per (protocol, submission, ...): stable, independent of others."""
    return int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:12], 16)


def rank_entries(entries: list[Entry], protocol: str, bootstrap: scoring.BootstrapConfig
                 ) -> list[Ranked]:
    """The complete entries with their aggregates, best IQM first (ties by name)."""
    ranked = []
    for e in entries:
        if e.complete:
            matrix = score_matrix(e, protocol)
            ranked.append(Ranked(e, matrix, scoring.aggregate_with_ci(
                matrix, bootstrap, stream_id(protocol, e.name))))
    return sorted(ranked, key=lambda r: (-r.aggregates["IQM"][0], r.entry.name))


def best_baseline(ranked: list[Ranked], baselines: set[str] | None) -> Ranked | None:
    """The best-ranked of ``baselines``, or if None of every submission not in
    ``NOT_BASELINES``; None if there is no such entry."""
    for r in ranked:
        if (r.entry.name in baselines) if baselines is not None else (
                r.entry.name not in NOT_BASELINES):
            return r
    return None


def offline_size_iqms(ranked: list[Ranked], bootstrap: scoring.BootstrapConfig
                      ) -> tuple[list[int], list[list[tuple[float, float, float]]]]:
    """The dataset sizes every ranked offline run has, and per ranked entry the IQM
    (point, low, high) over tasks x behaviours at each of those sizes."""
    sizes = sorted(set.intersection(*[{c["dataset_episodes"] for c in rec["result"]["cells"]}
                                      for r in ranked for rec in r.entry.records]))
    iqms = [[scoring.aggregate_with_ci(offline_matrix(r.entry, n), bootstrap,
                                       stream_id("offline", r.entry.name, str(n)))["IQM"]
             for n in sizes] for r in ranked]
    return sizes, iqms
