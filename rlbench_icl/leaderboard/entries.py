"""From accepted records to ranked entries: score matrices, aggregates, the ranking.

The declared grid of a protocol is seeds 0..N-1 of every task of the suite. A submission is
ranked only on that grid, and only if it has an accepted, successful, sealed run for every cell
of it and no refused file claims a cell; otherwise it is listed as incomplete (with what is
missing) or as in-process (every run there, some not sealed).
Runs outside the grid (other tasks, seeds >= N, e.g. the paper's seeds 10 and 11) neither
count nor make anything incomplete. Every bootstrap draws from its own stream, keyed by
(protocol, submission, ...), so an entry's own intervals do not depend on which other
submissions are stored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from .. import scoring
from ..protocols import SCORE_KEY
from ..protocols.online import episodes_to_threshold
from ..tasks import Task
from .results import Results

NOT_BASELINES = ("random", "gnn-fm", "rmax-plan")
"""Submissions never taken as the reference baseline of the P(> X) column by default: the
random floor, the model, and the model's inputs alone (compared in their own table)."""

TIE_TOLERANCE = 1e-9
"""Scores this close tie in P(X > Y). A record stores values to 12 significant digits, so
runs of equal value (two optimal policies, say) can be rescored ~1e-12 apart: in the 0.1.0
results, 500 online and 89 offline pairs of runs of one task scored between 0 and 1e-9 apart,
and exact comparison counted each as a win."""

SEED_FILE = re.compile(r"seed-(?P<seed>[0-9]+)\.json(\.gz)?")


@dataclass
class Entry:
    """One submission on one protocol, on the declared grid ``tasks`` x ``seeds``."""

    name: str
    metadata: dict
    records: list[dict]
    """The accepted runs in the grid (failed ones included)."""
    tasks: list[str]
    seeds: list[int]
    missing: list[tuple[str, int]]
    """(task, seed) cells of the grid with no accepted run, in grid order."""
    failed: list[tuple[str, int]]
    """(task, seed) cells of the grid whose run failed, in grid order."""
    refused: int
    """Refused files of this submission and protocol that claim a cell of the grid (or no
    cell at all: a file out of place)."""
    harness_versions: list[str]
    in_process: list[tuple[str, int]] = field(default_factory=list)
    """(task, seed) cells of the grid whose run was not sealed (``--in-process``, or a
    record from before sealed runs): listed, never ranked."""
    code_hashes: list[str] = field(default_factory=list)
    """The distinct code hashes (``record["code"]["sha256"]``) its runs in the grid record;
    more than one means runs of different code under one version."""
    intervals: dict = field(default_factory=dict, repr=False, compare=False)
    """``task_intervals`` by (protocol, bootstrap), once computed."""

    @property
    def complete(self) -> bool:
        """Whether it is ranked: every cell run successfully and sealed."""
        return not (self.missing or self.failed or self.refused or self.in_process)

    @property
    def status(self) -> str:
        """``ranked``, ``incomplete`` (runs missing, failed or refused) or ``in-process``
        (every run there but not all sealed)."""
        if self.complete:
            return "ranked"
        return "incomplete" if self.missing or self.failed or self.refused else "in-process"

    @property
    def grid_size(self) -> int:
        return len(self.tasks) * len(self.seeds)


@dataclass
class Ranked:
    """A complete entry with its score matrix, its aggregates and how the matrix is
    resampled for every interval of it (``bootstrap``: a test suite's draws instances)."""

    entry: Entry
    matrix: np.ndarray
    aggregates: dict[str, tuple[float, float, float]]
    bootstrap: scoring.BootstrapConfig


@dataclass
class Ranking:
    """One suite and protocol of the leaderboard: every entry, the ranked ones (best
    first), the reference baseline of the P(> X) column and each other ranked entry's
    P(X > base) with its CI, by name."""

    suite: str
    """``dev`` or ``test``: which ranking."""
    selector: str
    """The suite's selector, e.g. ``dev``, ``test`` or a tag."""
    protocol: str
    entries: list[Entry]
    ranked: list[Ranked]
    base: Ranked | None
    poi: dict[str, tuple[float, float, float]]

    @property
    def incomplete(self) -> list[Entry]:
        return [e for e in self.entries if not e.complete]

    @property
    def key(self) -> str:
        """``online``, ``offline``, ``online_test``, ...: the prefix of its files."""
        return self.protocol if self.suite == "dev" else f"{self.protocol}_{self.suite}"


def make_entries(results: Results, protocol: str, suite: list[str], num_seeds: int
                 ) -> list[Entry]:
    """Entries of a protocol on the grid ``suite`` x seeds ``0..num_seeds-1``: one per
    submission with a run of a suite task (at any seed)."""
    seeds = list(range(num_seeds))
    cells = [(t, s) for t in suite for s in seeds]
    entries = []
    for (proto, name), records in sorted(results.records.items()):
        in_suite = [r for r in records if r["task"]["id"] in suite]
        if proto != protocol or not in_suite:
            continue
        grid = [r for r in in_suite if r["seed"] < num_seeds]
        status = {(r["task"]["id"], r["seed"]): r["status"] for r in grid}
        unsealed = {(r["task"]["id"], r["seed"]) for r in grid if r.get("isolation") != "sealed"}
        entries.append(Entry(
            name, in_suite[0]["submission"], grid, suite, seeds,
            missing=[c for c in cells if c not in status],
            failed=[c for c in cells if status.get(c, "ok") != "ok"],
            refused=_refused_in_grid(results, name, protocol, suite, num_seeds),
            harness_versions=sorted({r["harness_version"] for r in grid}),
            in_process=[c for c in cells if c in unsealed],
            code_hashes=code_hashes(grid)))
    return entries


def code_hashes(records: list[dict]) -> list[str]:
    """The distinct code hashes (``record["code"]["sha256"]``) that ``records`` record."""
    return sorted({str(r["code"].get("sha256")) for r in records
                   if isinstance(r.get("code"), dict)})


def _refused_in_grid(results: Results, name: str, protocol: str, suite: list[str],
                     num_seeds: int) -> int:
    """Refused files filed under this submission and protocol (by their path) at a cell of
    the grid, or at no run's place."""
    count = 0
    for path, _ in results.refused:
        parts = Path(path).parts
        if parts[:2] != (name, protocol):
            continue
        seed = SEED_FILE.fullmatch(parts[-1])
        placed = len(parts) == 4 and seed is not None
        count += not placed or (parts[2] in suite and int(seed["seed"]) < num_seeds)
    return count


def score_matrix(entry: Entry, protocol: str) -> np.ndarray:
    """(runs, tasks) normalised scores of a complete entry."""
    by_key = {(r["task"]["id"], r["seed"]): r for r in entry.records}
    return np.array([[by_key[(t, s)]["result"]["scores"][SCORE_KEY[protocol]]
                      for t in entry.tasks] for s in entry.seeds])


def task_scores(entry: Entry, protocol: str) -> dict[str, np.ndarray]:
    """Each task's scores over the entry's successful runs in the grid, in seed order (all
    seeds for a complete entry; what it ran, for a partial view of an incomplete one);
    tasks with no successful run are left out."""
    by_task: dict[str, list[tuple[int, float]]] = {}
    for r in entry.records:
        if r["status"] == "ok":
            by_task.setdefault(r["task"]["id"], []).append(
                (r["seed"], r["result"]["scores"][SCORE_KEY[protocol]]))
    return {t: np.array([v for _, v in sorted(by_task[t])]) for t in entry.tasks
            if t in by_task}


def task_intervals(entry: Entry, protocol: str, bootstrap: scoring.BootstrapConfig
                   ) -> dict[str, tuple[np.ndarray, tuple[float, float, float]]]:
    """Per task of ``task_scores``: the scores over seeds and ``seed_mean_ci`` of them
    (stream ``(protocol, name, task)``). Computed once per entry: the per-task tables and
    the site's pages show the same intervals."""
    key = (protocol, bootstrap)
    if key not in entry.intervals:
        entry.intervals[key] = {t: (v, seed_mean_ci(v, bootstrap, stream_id(
            protocol, entry.name, t))) for t, v in task_scores(entry, protocol).items()}
    return entry.intervals[key]


def seed_mean_ci(scores: np.ndarray, bootstrap: scoring.BootstrapConfig, stream: int
                 ) -> tuple[float, float, float]:
    """The mean of one task's scores over seeds, with a bootstrap CI over seeds."""
    boot = scoring.stratified_resamples(scores[:, None], bootstrap, stream)
    return (float(scores.mean()), *scoring.interval(boot.mean(axis=(1, 2)),
                                                    bootstrap.confidence))


def improvements(ranked: list[Ranked], base: Ranked | None, *stream: str
                 ) -> dict[str, tuple[float, float, float]]:
    """P(X > base) with its CI for every ranked X but the base, keyed by name; each from the
    stream ``(*stream, X)`` (e.g. ``("online", "poi")`` gives ``online/X/poi``)."""
    if base is None:
        return {}
    head, tail = stream[0], stream[1:]
    return {r.entry.name: improvement(r, base, stream_id(head, r.entry.name, *tail))
            for r in ranked if r is not base}


def improvement(x: Ranked, y: Ranked, stream: int) -> tuple[float, float, float]:
    """P(X > Y) with its CI, scores within ``TIE_TOLERANCE`` tied; both of one suite, so
    resampled alike."""
    if x.bootstrap != y.bootstrap:
        raise ValueError(f"{x.entry.name} and {y.entry.name} are resampled differently")
    return scoring.probability_of_improvement_with_ci(x.matrix, y.matrix, x.bootstrap, stream,
                                                      TIE_TOLERANCE)


def offline_matrix(entry: Entry, size: int, epsilon: float | None = None) -> np.ndarray:
    """(runs, task x epsilon) normalised values at one dataset size (and one behaviour
    ``epsilon``, if given: then (runs, tasks))."""
    by_key = {(r["task"]["id"], r["seed"]): r for r in entry.records}
    return size_matrix([[by_key[(t, s)]["result"]["cells"] for t in entry.tasks]
                        for s in entry.seeds], size, epsilon)


def size_matrix(cells: list[list[list[dict]]], size: int, epsilon: float | None = None
                ) -> np.ndarray:
    """(seeds, task x epsilon) normalised values at one dataset size (of one behaviour
    ``epsilon``, if given), from the offline cells of each seed's run of each task
    (``cells[seed][task]``)."""
    return np.array([[c["normalised_value"] for task_cells in seed_cells for c in task_cells
                      if c["dataset_episodes"] == size
                      and (epsilon is None or c["epsilon"] == epsilon)]
                     for seed_cells in cells])


def binned_returns(record: dict, task: Task, key: str, points: int) -> np.ndarray | None:
    """A successful online run's normalised ``key`` ("returns" or "policy_values"; None if
    the run did not record it) averaged over ``points`` equal bins of its budget, so curves
    of tasks with different budgets share an x axis (% of the budget)."""
    values = record["result"]["episodes"][key]
    if values is None:
        return None
    normalised = (task.normalise_return(np.asarray(values)) if key == "returns"
                  else task.normalise(np.asarray(values)))
    edges, widths, ends = _bins(len(normalised), points)
    cumulative = np.interp(edges, ends, np.concatenate([[0.0], np.cumsum(normalised)]))
    return np.diff(cumulative) / widths


@cache
def _bins(episodes: int, points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``binned_returns``' bins of a budget: each episode a unit interval, the bins' means
    come from the cumulative sum at fractional edges, so a budget shorter than ``points``
    still gives ``points`` values. (edges, their widths, each episode's end.) The same
    for every run of a task: made once (a quarter of ``binned_returns``' time)."""
    edges = np.linspace(0, episodes, points + 1)
    arrays = edges, np.diff(edges), np.arange(episodes + 1)
    for a in arrays:
        a.flags.writeable = False  # shared by every call
    return arrays


def curve_array(entry: Entry, key: str, points: int, tasks: dict[str, Task]
                ) -> np.ndarray | None:
    """(runs, tasks, points) binned normalised ``key`` values of a complete entry
    (``binned_returns``); None if some run did not record them."""
    by_key = {(r["task"]["id"], r["seed"]): r for r in entry.records}
    out = np.empty((len(entry.seeds), len(entry.tasks), points))
    for i, s in enumerate(entry.seeds):
        for j, t in enumerate(entry.tasks):
            curve = binned_returns(by_key[(t, s)], tasks[t], key, points)
            if curve is None:
                return None
            out[i, j] = curve
    return out


def threshold_episodes(entry: Entry, tasks: dict[str, Task]
                       ) -> dict[str, tuple[int, list[int]]]:
    """Per task, the budget and each successful online run's episodes-to-threshold (the
    first episode from which a 10-episode moving average of normalised returns reaches 0.9;
    budget + 1 for a run that never does), in seed order."""
    out: dict[str, tuple[int, list[int]]] = {}
    for r in sorted(entry.records, key=lambda r: r["seed"]):
        if r["status"] != "ok":
            continue
        task, budget = r["task"]["id"], r["settings"]["num_episodes"]
        returns = tasks[task].normalise_return(np.asarray(r["result"]["episodes"]["returns"]))
        out.setdefault(task, (budget, []))[1].append(episodes_to_threshold(returns)
                                                     or budget + 1)
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
                matrix, bootstrap, stream_id(protocol, e.name)), bootstrap))
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
    sizes = common_sizes(ranked)
    iqms = [[scoring.iqm_with_ci(offline_matrix(r.entry, n), bootstrap,
                                 stream_id("offline", r.entry.name, str(n))) for n in sizes]
            for r in ranked]
    return sizes, iqms


def common_sizes(ranked: list[Ranked]) -> list[int]:
    """The offline dataset sizes every run of every ranked entry has, ascending."""
    return sorted(set.intersection(*[{c["dataset_episodes"] for c in rec["result"]["cells"]}
                                     for r in ranked for rec in r.entry.records]))
