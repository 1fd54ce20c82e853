"""Robust aggregate scores with stratified-bootstrap confidence intervals.

The metrics are rliable's (Agarwal et al. 2021), on a score matrix of shape (runs, tasks):

- IQM: the mean of the middle 50% of all run-task scores;
- median and mean: over tasks, of the mean over runs;
- optimality gap: ``1 - mean(min(score, 1))``;
- probability of improvement P(X > Y): per task, the Mann-Whitney probability that a run of X
  beats a run of Y (ties count 1/2), averaged over tasks;
- performance profile: the fraction of run-task scores above each threshold.

Confidence intervals come from our own vectorised stratified bootstrap (runs resampled
with replacement within each task, or blocks of runs drawn whole: ``BootstrapConfig.cluster``,
a test instance's seeds), percentile method, drawn from a seeded
``np.random.Generator``. Why not ``rliable.library.get_interval_estimates`` itself: it draws
from numpy's global RNG whatever its ``random_state`` says (so intervals change from call to
call), and its 50,000 default resamples took ~15 s per agent on a 20-task matrix here.
``benchmarks/bench_scoring.py`` compares the two; a test checks their intervals agree within
Monte-Carlo error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class BootstrapConfig:
    """How intervals are computed (recorded in every leaderboard)."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    confidence: float = CONFIDENCE
    method: str = "stratified bootstrap, percentile"
    cluster: int = 1
    """The rows of a task's column come in consecutive blocks of this many that are drawn
    together: a test instance's seeds, since the instances are what a test suite samples
    (its seeds are not independent draws). 1: every run is drawn on its own (rliable's)."""


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean over the last two axes: (..., runs, tasks) -> (...): the mean of
    the middle half of the values (``scipy.stats.trim_mean(flat, 0.25)``), NaN if a value is
    NaN."""
    flat = scores.reshape(*scores.shape[:-2], -1)
    cut = flat.shape[-1] // 4
    # the middle half summed in sorted order: the same order on every machine (trim_mean's
    # partition leaves it to the numpy build's selection algorithm), and numpy's SIMD sort
    # is ~8x faster than its two-pivot partition on a (2000, 200) bootstrap
    ordered = np.sort(flat, axis=-1)  # NaNs sort last
    out = ordered[..., cut:flat.shape[-1] - cut].mean(axis=-1)
    return np.where(np.isnan(ordered[..., -1]), np.nan, out)[()]


def median(scores: np.ndarray) -> np.ndarray:
    return np.median(scores.mean(axis=-2), axis=-1)


def mean(scores: np.ndarray) -> np.ndarray:
    return scores.mean(axis=-2).mean(axis=-1)


def optimality_gap(scores: np.ndarray) -> np.ndarray:
    return 1.0 - np.minimum(scores, 1.0).mean(axis=(-2, -1))


AGGREGATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "IQM": iqm, "median": median, "mean": mean, "optimality gap": optimality_gap}


def stratified_resamples(scores: np.ndarray, config: BootstrapConfig,
                         stream: int = 0) -> np.ndarray:
    """(resamples, runs, tasks): runs drawn with replacement independently per task."""
    flat = _flat_index(resample_index(scores.shape, config, stream), scores.shape[1])
    return scores.ravel()[flat]


def resample_index(shape: tuple[int, int], config: BootstrapConfig, stream: int = 0
                   ) -> np.ndarray:
    """(resamples, runs, tasks): the run drawn at each place of each resample of a
    ``shape`` = (runs, tasks) matrix, from the stream ``(config.seed, stream)``; with
    ``config.cluster`` = k > 1, blocks of k consecutive runs are drawn whole."""
    runs, tasks = shape
    rng = np.random.default_rng([config.seed, stream])
    if config.cluster == 1:
        return rng.integers(0, runs, size=(config.resamples, runs, tasks))
    blocks, rest = divmod(runs, config.cluster)
    if rest or not blocks:
        raise ValueError(f"{runs} runs a task do not split into blocks of {config.cluster}")
    picks = rng.integers(0, blocks, size=(config.resamples, blocks, tasks))
    rows = picks[:, :, None, :] * config.cluster + np.arange(config.cluster)[:, None]
    return rows.reshape(config.resamples, runs, tasks)


def _flat_index(index: np.ndarray, tasks: int) -> np.ndarray:
    """``resample_index``'s draws, in place, as indices into the (runs, tasks) matrix
    flattened in C order: a plain gather then picks the same values ~4x faster than
    indexing by (run, task) pairs (this arithmetic costs about two gathers, and a curve's
    points share it)."""
    index *= tasks
    index += np.arange(tasks)
    return index


def interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def aggregate_with_ci(scores: np.ndarray, config: BootstrapConfig = BootstrapConfig(),
                      stream: int = 0) -> dict[str, tuple[float, float, float]]:
    """``{metric: (point, low, high)}`` for every aggregate of a (runs, tasks) matrix."""
    _check_matrix(scores)
    resampled = stratified_resamples(scores, config, stream)
    return {name: (float(fn(scores)), *interval(fn(resampled), config.confidence))
            for name, fn in AGGREGATES.items()}


def iqm_with_ci(scores: np.ndarray, config: BootstrapConfig = BootstrapConfig(),
                stream: int = 0) -> tuple[float, float, float]:
    """``aggregate_with_ci(...)["IQM"]`` without the other three aggregates."""
    _check_matrix(scores)
    boot = iqm(stratified_resamples(scores, config, stream))
    return (float(iqm(scores)), *interval(boot, config.confidence))


def iqm_difference_with_ci(x: np.ndarray, y: np.ndarray,
                           config: BootstrapConfig = BootstrapConfig(), stream: int = 0,
                           y_config: BootstrapConfig | None = None
                           ) -> tuple[float, float, float]:
    """IQM(X) - IQM(Y) of two score matrices (any numbers of runs and tasks: e.g. a dev and a
    test suite), with a CI from resampling each independently (stratified by its tasks; Y
    as ``y_config`` says, if given: a test suite's instances are drawn whole)."""
    _check_matrix(x)
    _check_matrix(y)
    boot = iqm(stratified_resamples(x, config, 2 * stream)) - iqm(
        stratified_resamples(y, y_config or config, 2 * stream + 1))
    return (float(iqm(x) - iqm(y)), *interval(boot, config.confidence))


def probability_of_improvement(x: np.ndarray, y: np.ndarray, tie_tolerance: float = 0.0
                               ) -> np.ndarray:
    """P(X > Y) over the last two axes (..., runs, tasks), averaged over tasks. Scores within
    ``tie_tolerance`` of each other tie (0: only equal ones, as rliable)."""
    gap = x[..., :, None, :] - y[..., None, :, :]
    greater = (gap > tie_tolerance).mean(axis=(-3, -2))
    ties = (np.abs(gap) <= tie_tolerance).mean(axis=(-3, -2))
    return (greater + 0.5 * ties).mean(axis=-1)


def probability_of_improvement_with_ci(x: np.ndarray, y: np.ndarray,
                                       config: BootstrapConfig = BootstrapConfig(),
                                       stream: int = 0, tie_tolerance: float = 0.0
                                       ) -> tuple[float, float, float]:
    """P(X > Y) with a CI from resampling the runs of X and of Y independently per task;
    ``tie_tolerance`` as in ``probability_of_improvement``."""
    _check_matrix(x)
    _check_matrix(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"X and Y cover {x.shape[1]} and {y.shape[1]} tasks")
    # a resample's runs are the original runs, each drawn some number of times per task: its
    # win and tie counts are those draw counts contracted with the original runs' win and
    # tie matrices, exact integers (the same numbers as comparing every resampled pair of
    # runs, ~3x faster)
    cx = _draw_counts(resample_index(x.shape, config, 2 * stream), x.shape[0])
    cy = _draw_counts(resample_index(y.shape, config, 2 * stream + 1), y.shape[0])
    pairs = x.shape[0] * y.shape[0]
    gap = x.T[:, :, None] - y.T[:, None, :]
    greater, ties = (np.ascontiguousarray(np.einsum("trl,trl->rt", cx @ outcome, cy)) / pairs
                     for outcome in ((gap > tie_tolerance).astype(float),
                                     (np.abs(gap) <= tie_tolerance).astype(float)))
    boot = (greater + 0.5 * ties).mean(axis=-1)
    return (float(probability_of_improvement(x, y, tie_tolerance)),
            *interval(boot, config.confidence))


def _draw_counts(index: np.ndarray, runs: int) -> np.ndarray:
    """(tasks, resamples, runs): how often each run is drawn in each resample of each task,
    from a (resamples, draws, tasks) ``index`` (``resample_index``)."""
    resamples, _, tasks = index.shape
    cell = (np.arange(tasks) * resamples + np.arange(resamples)[:, None, None]) * runs
    counts = np.bincount((cell + index).ravel(), minlength=tasks * resamples * runs)
    return counts.reshape(tasks, resamples, runs).astype(float)


def performance_profile(scores: np.ndarray, thresholds: np.ndarray,
                        config: BootstrapConfig = BootstrapConfig(), stream: int = 0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fraction of run-task scores > tau for each threshold, with CI bands (each (T,))."""
    _check_matrix(scores)
    point = (scores.ravel()[None, :] > thresholds[:, None]).mean(axis=1)
    # a resample's count above each threshold from its draw counts (``_draw_counts``) and the
    # original runs' (tasks, runs, thresholds) indicators: exact integers, one product
    counts = _draw_counts(resample_index(scores.shape, config, stream), scores.shape[0])
    above = (scores.T[:, :, None] > thresholds).astype(float)
    boot = np.tensordot(counts, above, axes=([0, 2], [0, 1])) / scores.size
    tail = 100 * (1 - config.confidence) / 2
    lo, hi = np.percentile(boot, [tail, 100 - tail], axis=0)
    return point, lo, hi


def iqm_curve(curves: np.ndarray, config: BootstrapConfig = BootstrapConfig(),
              stream: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over (runs, tasks) at each point of ``curves`` (runs, tasks, points), with CIs;
    every point is resampled with the same draw of runs, so a resample is a whole curve."""
    runs, tasks, points = curves.shape
    flat = _flat_index(resample_index((runs, tasks), config, stream), tasks)
    by_point = np.moveaxis(curves, 2, 0).reshape(points, runs * tasks)  # C-order copy
    # one point at a time, each summed as ``iqm`` sums one matrix (a batched mean may
    # sum float32 values in another order)
    boot = np.stack([iqm(c[flat]) for c in by_point], axis=1)  # (resamples, points)
    tail = 100 * (1 - config.confidence) / 2
    lo, hi = np.percentile(boot, [tail, 100 - tail], axis=0)
    point = np.array([iqm(c.reshape(runs, tasks)) for c in by_point])
    return point, lo, hi


def _check_matrix(scores: np.ndarray) -> None:
    if scores.ndim != 2 or 0 in scores.shape:
        raise ValueError(f"a score matrix is (runs, tasks) and non-empty, got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("a score matrix must be finite")
