"""Robust aggregate scores with stratified-bootstrap confidence intervals.

The metrics are rliable's (Agarwal et al. 2021), on a score matrix of shape (runs, tasks):

- IQM: the mean of the middle 50% of all run-task scores;
- median and mean: over tasks, of the mean over runs;
- optimality gap: ``1 - mean(min(score, 1))``;
- probability of improvement P(X > Y): per task, the Mann-Whitney probability that a run of X
  beats a run of Y (ties count 1/2), averaged over tasks;
- performance profile: the fraction of run-task scores above each threshold.

Confidence intervals come from our own vectorised stratified bootstrap (runs resampled
with replacement within each task), percentile method, drawn from a seeded
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
from scipy import stats

CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class BootstrapConfig:
    """How intervals are computed (recorded in every leaderboard)."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    confidence: float = CONFIDENCE
    method: str = "stratified bootstrap, percentile"


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean over the last two axes: (..., runs, tasks) -> (...)."""
    flat = scores.reshape(*scores.shape[:-2], -1)
    return stats.trim_mean(flat, 0.25, axis=-1)


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
    runs, tasks = scores.shape
    rng = np.random.default_rng([config.seed, stream])
    index = rng.integers(0, runs, size=(config.resamples, runs, tasks))
    return np.take_along_axis(scores[None], index, axis=1)


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


def iqm_difference_with_ci(x: np.ndarray, y: np.ndarray,
                           config: BootstrapConfig = BootstrapConfig(), stream: int = 0
                           ) -> tuple[float, float, float]:
    """IQM(X) - IQM(Y) of two score matrices (any numbers of runs and tasks: e.g. a dev and a
    test suite), with a CI from resampling each independently (stratified by its tasks)."""
    _check_matrix(x)
    _check_matrix(y)
    boot = iqm(stratified_resamples(x, config, 2 * stream)) - iqm(
        stratified_resamples(y, config, 2 * stream + 1))
    return (float(iqm(x) - iqm(y)), *interval(boot, config.confidence))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) over the last two axes (..., runs, tasks), averaged over tasks."""
    greater = (x[..., :, None, :] > y[..., None, :, :]).mean(axis=(-3, -2))
    ties = (x[..., :, None, :] == y[..., None, :, :]).mean(axis=(-3, -2))
    return (greater + 0.5 * ties).mean(axis=-1)


def probability_of_improvement_with_ci(x: np.ndarray, y: np.ndarray,
                                       config: BootstrapConfig = BootstrapConfig(),
                                       stream: int = 0) -> tuple[float, float, float]:
    """P(X > Y) with a CI from resampling the runs of X and of Y independently per task."""
    _check_matrix(x)
    _check_matrix(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"X and Y cover {x.shape[1]} and {y.shape[1]} tasks")
    rx = stratified_resamples(x, config, 2 * stream)
    ry = stratified_resamples(y, config, 2 * stream + 1)
    boot = np.concatenate([probability_of_improvement(rx[i:i + 250], ry[i:i + 250])
                           for i in range(0, config.resamples, 250)])
    return (float(probability_of_improvement(x, y)), *interval(boot, config.confidence))


def performance_profile(scores: np.ndarray, thresholds: np.ndarray,
                        config: BootstrapConfig = BootstrapConfig(), stream: int = 0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fraction of run-task scores > tau for each threshold, with CI bands (each (T,))."""
    _check_matrix(scores)
    resampled = stratified_resamples(scores, config, stream)
    point = (scores.ravel()[None, :] > thresholds[:, None]).mean(axis=1)
    flat = resampled.reshape(config.resamples, -1)
    boot = np.stack([(flat > t).mean(axis=1) for t in thresholds], axis=1)
    tail = 100 * (1 - config.confidence) / 2
    lo, hi = np.percentile(boot, [tail, 100 - tail], axis=0)
    return point, lo, hi


def iqm_curve(curves: np.ndarray, config: BootstrapConfig = BootstrapConfig(),
              stream: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over (runs, tasks) at each point of ``curves`` (runs, tasks, points), with CIs."""
    runs, tasks, points = curves.shape
    rng = np.random.default_rng([config.seed, stream])
    index = rng.integers(0, runs, size=(config.resamples, runs, tasks))
    point = iqm(np.moveaxis(curves, 2, 0))
    boot = np.empty((config.resamples, points))
    for p in range(points):
        boot[:, p] = iqm(np.take_along_axis(curves[None, :, :, p], index, axis=1))
    tail = 100 * (1 - config.confidence) / 2
    lo, hi = np.percentile(boot, [tail, 100 - tail], axis=0)
    return point, lo, hi


def _check_matrix(scores: np.ndarray) -> None:
    if scores.ndim != 2 or 0 in scores.shape:
        raise ValueError(f"a score matrix is (runs, tasks) and non-empty, got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("a score matrix must be finite")
