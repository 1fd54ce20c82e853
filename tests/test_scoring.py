import dataclasses

import numpy as np
import pytest
from rliable import library as rly
from rliable import metrics

from rlbench_icl import scoring

CFG = scoring.BootstrapConfig(resamples=2000, seed=3)


def test_aggregates_by_hand():
    m = np.array([[0.0, 1.0, 2.0, 10.0], [0.5, 0.5, 0.5, 0.5]])
    # IQM: sorted 0, .5, .5, .5, .5, 1, 2, 10 -> middle four .5, .5, .5, 1
    assert scoring.iqm(m) == pytest.approx(0.625)
    assert scoring.mean(m) == pytest.approx(np.mean([0.25, 0.75, 1.25, 5.25]))
    assert scoring.median(m) == pytest.approx(1.0)  # median of 0.25, 0.75, 1.25, 5.25
    assert scoring.optimality_gap(m) == pytest.approx(1 - np.mean([0, 1, 1, 1, .5, .5, .5, .5]))


def test_probability_of_improvement_by_hand():
    x = np.array([[1.0, 0.0], [3.0, 0.0]])
    y = np.array([[2.0, 0.0], [2.0, 1.0]])
    # task 0: pairs (1,2) (1,2) (3,2) (3,2) -> 2 wins of 4; task 1: 2 ties of 4 pairs
    assert scoring.probability_of_improvement(x, y) == pytest.approx((0.5 + 0.5 * 0.5) / 2)


def test_scores_within_the_tie_tolerance_tie_in_the_point_and_every_resample():
    x = np.array([[1.0 - 1e-12], [0.5]])  # run 0 equals y's runs but for rounding noise
    y = np.array([[1.0], [1.0]])
    assert scoring.probability_of_improvement(x, y) == 0.0
    assert scoring.probability_of_improvement(x, y, tie_tolerance=1e-9) == 0.25
    point, lo, hi = scoring.probability_of_improvement_with_ci(x, y, CFG, tie_tolerance=1e-9)
    assert (point, lo, hi) == (0.25, 0.0, 0.5)  # 0, 1 or 2 noisy runs drawn of two


def test_performance_profile_by_hand():
    m = np.array([[0.1, 0.5], [0.9, 0.5]])
    point, lo, hi = scoring.performance_profile(m, np.array([0.0, 0.5, 0.95]), CFG)
    np.testing.assert_allclose(point, [1.0, 0.25, 0.0])
    assert np.all(lo <= point) and np.all(point <= hi)


def test_intervals_repeat_exactly_with_the_same_seed():
    m = np.random.default_rng(0).random((7, 5))
    assert scoring.aggregate_with_ci(m, CFG) == scoring.aggregate_with_ci(m, CFG)
    other = scoring.BootstrapConfig(resamples=2000, seed=4)
    assert scoring.aggregate_with_ci(m, CFG) != scoring.aggregate_with_ci(m, other)


def test_intervals_agree_with_rliable():
    rng = np.random.default_rng(1)
    x = rng.beta(2, 2, size=(10, 16))
    y = np.clip(x + rng.normal(0, 0.2, size=x.shape) - 0.05, 0, 1)
    cfg = scoring.BootstrapConfig(resamples=1000, seed=3)
    ours = scoring.aggregate_with_ci(x, cfg)

    def aggregate(s):
        return np.array([metrics.aggregate_iqm(s), metrics.aggregate_median(s),
                         metrics.aggregate_mean(s), metrics.aggregate_optimality_gap(s)])

    np.random.seed(0)  # noqa: NPY002  (rliable draws from the global RNG; only here)
    points, cis = rly.get_interval_estimates({"x": x}, aggregate, reps=1000)
    for k, name in enumerate(["IQM", "median", "mean", "optimality gap"]):
        assert ours[name][0] == pytest.approx(points["x"][k])
        assert ours[name][1] == pytest.approx(cis["x"][0, k], abs=0.01)
        assert ours[name][2] == pytest.approx(cis["x"][1, k], abs=0.01)
    np.random.seed(0)  # noqa: NPY002
    points, cis = rly.get_interval_estimates({"xy": (x, y)}, metrics.probability_of_improvement,
                                             reps=1000)
    point, lo, hi = scoring.probability_of_improvement_with_ci(x, y, cfg)
    assert point == pytest.approx(points["xy"])
    assert lo == pytest.approx(cis["xy"][0, 0], abs=0.015)
    assert hi == pytest.approx(cis["xy"][1, 0], abs=0.015)


def test_bad_matrices_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        scoring.aggregate_with_ci(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="finite"):
        scoring.aggregate_with_ci(np.array([[np.nan]]))


def test_iqm_is_the_trimmed_mean_and_propagates_nan():
    from scipy import stats

    rng = np.random.default_rng(2)
    for runs, tasks in [(1, 1), (3, 5), (10, 20), (7, 3)]:
        m = np.round(rng.random((6, runs, tasks)), 1)  # ties at the cuts
        np.testing.assert_allclose(scoring.iqm(m), stats.trim_mean(
            m.reshape(6, -1), 0.25, axis=-1), rtol=1e-13)
    m[2, 0, 0] = np.nan
    assert np.isnan(scoring.iqm(m)[2]) and not np.isnan(scoring.iqm(m)[[0, 1, 3]]).any()


def test_bootstraps_from_draw_counts_equal_comparing_every_resample():
    """P(X > Y) and the performance profile count a resample's wins and runs above a
    threshold from its draw counts: exactly the numbers of the resampled matrices."""
    rng = np.random.default_rng(5)
    x, y = np.round(rng.random((6, 9)), 1), np.round(rng.random((4, 9)), 1)  # ties
    cfg = scoring.BootstrapConfig(resamples=300, seed=1)
    rx = scoring.stratified_resamples(x, cfg, 14)
    ry = scoring.stratified_resamples(y, cfg, 15)
    boot = scoring.probability_of_improvement(rx, ry)
    assert scoring.probability_of_improvement_with_ci(x, y, cfg, 7) == (
        float(scoring.probability_of_improvement(x, y)), *scoring.interval(boot, 0.95))
    thresholds = np.array([0.5, 0.0, 0.3, 0.3, 1.0])
    flat = scoring.stratified_resamples(x, cfg, 3).reshape(300, -1)
    boot = np.stack([(flat > t).mean(axis=1) for t in thresholds], axis=1)
    _, lo, hi = scoring.performance_profile(x, thresholds, cfg, 3)
    np.testing.assert_array_equal([lo, hi], np.percentile(boot, [2.5, 97.5], axis=0))


def test_resamples_pick_each_tasks_drawn_runs():
    """``stratified_resamples`` gathers through flat indices: the same values as indexing
    by the drawn (run, task) pairs."""
    scores = np.random.default_rng(3).random((5, 7))
    cfg = scoring.BootstrapConfig(resamples=50, seed=2)
    index = scoring.resample_index(scores.shape, cfg, 9)
    np.testing.assert_array_equal(scoring.stratified_resamples(scores, cfg, 9),
                                  scores[index, np.arange(7)])


def test_iqm_curve_is_the_iqm_of_each_point_with_one_draw_of_runs():
    curves = np.random.default_rng(4).random((6, 5, 3)).astype(np.float32)
    cfg = scoring.BootstrapConfig(resamples=200, seed=1)
    point, lo, hi = scoring.iqm_curve(curves, cfg, 8)
    boot = np.stack([scoring.iqm(scoring.stratified_resamples(curves[..., p], cfg, 8))
                     for p in range(3)], axis=1)
    np.testing.assert_array_equal(point, [scoring.iqm(curves[..., p]) for p in range(3)])
    np.testing.assert_array_equal([lo, hi], np.percentile(boot, [2.5, 97.5], axis=0))


def test_blocks_of_runs_are_drawn_whole_and_repeats_of_a_unit_add_no_certainty():
    """``cluster`` = k: k consecutive runs of a task (a test instance's seeds) are drawn
    together. Three identical copies of each run then give the same intervals of the mean
    as the runs alone (the same draws), where drawing copies one by one narrows them."""
    rng = np.random.default_rng(3)
    units = rng.random((8, 4))
    tripled = np.repeat(units, 3, axis=0)  # rows: unit 0 three times, unit 1 ...
    cfg = scoring.BootstrapConfig(resamples=500)
    whole = scoring.aggregate_with_ci(tripled, dataclasses.replace(cfg, cluster=3), 5)
    alone = scoring.aggregate_with_ci(units, cfg, 5)
    assert whole["mean"] == pytest.approx(alone["mean"], abs=1e-12)
    loose = scoring.aggregate_with_ci(tripled, cfg, 5)["mean"]
    assert loose[2] - loose[1] < 0.75 * (alone["mean"][2] - alone["mean"][1])
    index = scoring.resample_index((6, 2), dataclasses.replace(cfg, cluster=3), 1)
    assert set(map(tuple, index.transpose(0, 2, 1).reshape(-1, 6).tolist())) <= {
        (a, a + 1, a + 2, b, b + 1, b + 2) for a in (0, 3) for b in (0, 3)}
    with pytest.raises(ValueError, match="do not split into blocks of 4"):
        scoring.resample_index((6, 2), dataclasses.replace(cfg, cluster=4))
