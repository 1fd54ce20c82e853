import numpy as np
import pytest

from rlbench_icl import TabularMDP, make_absorbing


def valid_args(**overrides):
    args = dict(P=np.full((2, 2, 2), 0.5), R=np.zeros((2, 2)), mu0=np.array([1.0, 0.0]),
                horizon=5)
    args.update(overrides)
    return args


def test_arrays_are_copied_and_read_only():
    P = np.full((2, 2, 2), 0.5)
    mdp = TabularMDP(**valid_args(P=P))
    P[0, 0, 0] = 0.9  # the caller's array stays the caller's
    assert mdp.P[0, 0, 0] == 0.5
    with pytest.raises(ValueError, match="read-only"):
        mdp.P[0, 0, 0] = 1.0
    with pytest.raises(AttributeError):
        mdp.horizon = 3


@pytest.mark.parametrize("overrides, message", [
    (dict(P=np.full((2, 2, 3), 1 / 3)), r"P has shape \(2, 2, 3\)"),
    (dict(P=np.zeros((0, 2, 0))), "at least one state"),
    (dict(P=np.full((2, 0, 2), 0.5), R=np.zeros((2, 0))), "at least one state and one action"),
    (dict(R=np.zeros((2, 3))), r"R has shape \(2, 3\)"),
    (dict(mu0=np.array([0.5, 0.4])), "mu0 sums to 0.9"),
    (dict(P=np.array([[[0.5, 0.5], [0.7, 0.7]], [[1, 0], [0, 1]]])),
     r"P row \(0, 1\) sums to 1.4"),
    (dict(P=np.array([[[1.5, -0.5], [1, 0]], [[1, 0], [0, 1]]])),
     r"negative probability -0.5 at index \(0, 0, 1\)"),
    (dict(R=np.array([[0.0, np.nan], [0, 0]])), r"R has a non-finite entry nan at index \(0, 1\)"),
    (dict(horizon=0), "horizon must be an integer >= 1"),
    (dict(horizon=2.5), "horizon must be an integer >= 1"),
    (dict(discount=1.5), r"discount must be in \[0, 1\]"),
    (dict(reward_noise="poisson"), "reward_noise 'poisson' is unknown"),
    (dict(reward_noise="bernoulli", R=np.array([[0.5, 1.2], [0, 0]])), r"R\(0, 1\) = 1.2"),
    (dict(reward_noise="gaussian"), "reward_std > 0"),
    (dict(reward_std=1.0), "only meaningful with gaussian"),
    (dict(terminal=np.array([False, True])), "terminal state 1 must be absorbing"),
    (dict(objective="discounted"), "needs discount < 1"),
    (dict(P="not an array"), "P is not a numeric array"),
])
def test_bad_input_raises_a_clear_value_error(overrides, message):
    with pytest.raises(ValueError, match=message):
        TabularMDP(**valid_args(**overrides))


def test_successor_reward_must_match_expected_reward():
    R_next = np.zeros((2, 2, 2))
    R_next[:, :, 1] = 1.0
    with pytest.raises(ValueError, match="not the expectation of R_next"):
        TabularMDP(**valid_args(R_next=R_next))
    mdp = TabularMDP(**valid_args(R_next=R_next, R=np.full((2, 2), 0.5)))
    assert mdp.reward_bounds() == (0.0, 1.0) and mdp.reward_bound() == 1.0
    negative = TabularMDP(**valid_args(R_next=-3 * R_next, R=np.full((2, 2), -1.5)))
    assert negative.reward_bounds() == (-3.0, 0.0) and negative.reward_bound() == 3.0


def test_make_absorbing_builds_valid_terminal_rows():
    P, R = make_absorbing(np.full((2, 2, 2), 0.5), np.ones((2, 2)), np.array([False, True]))
    mdp = TabularMDP(**valid_args(P=P, R=R, terminal=np.array([False, True])))
    assert mdp.P[1, :, 1].tolist() == [1.0, 1.0] and mdp.R[1].tolist() == [0.0, 0.0]


def test_digest_is_stable_and_sensitive(two_state_mdp):
    same = TabularMDP(P=two_state_mdp.P, R=two_state_mdp.R, mu0=two_state_mdp.mu0, horizon=3)
    assert same.digest == two_state_mdp.digest
    variants = [
        dict(horizon=4), dict(discount=0.9), dict(mu0=np.array([0.5, 0.5])),
        dict(R=two_state_mdp.R + np.array([[0, 0], [0, 1e-6]])),
        dict(objective="discounted", discount=0.9),
    ]
    base = dict(P=two_state_mdp.P, R=two_state_mdp.R, mu0=two_state_mdp.mu0, horizon=3)
    digests = {TabularMDP(**{**base, **v}).digest for v in variants}
    assert two_state_mdp.digest not in digests and len(digests) == len(variants)
