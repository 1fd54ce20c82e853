import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rlbench_icl import (
    TabularMDP,
    backward_induction,
    discounted_optimal_values,
    discounted_policy_value,
    greedy_policy,
    policy_value,
    uniform_policy,
)


def test_two_state_mdp_by_hand(two_state_mdp):
    m = two_state_mdp
    Q, V = backward_induction(m.P, m.R, m.horizon)
    np.testing.assert_allclose(V, [[4, 6], [2, 4], [1, 2], [0, 0]])
    np.testing.assert_allclose(Q[0], [[3, 4], [6, 4]])
    V_rand = policy_value(m.P, m.R, uniform_policy(2, 2), m.horizon)
    np.testing.assert_allclose(V_rand[:, 0], [2.125, 1.25, 0.5, 0.0])
    np.testing.assert_allclose(V_rand[:, 1], [3.0, 2.0, 1.0, 0.0])
    Q_inf, V_inf = discounted_optimal_values(m.P, m.R, discount=0.9)
    np.testing.assert_allclose(V_inf, [18.0, 20.0])
    np.testing.assert_allclose(Q_inf[0], [1 + 0.9 * 18, 0.9 * 20])


def test_policy_value_accepts_non_stationary_policies(two_state_mdp):
    m = two_state_mdp
    Q, V = backward_induction(m.P, m.R, m.horizon)
    np.testing.assert_allclose(policy_value(m.P, m.R, greedy_policy(Q), m.horizon), V)
    with pytest.raises(ValueError, match="policy has shape"):
        policy_value(m.P, m.R, np.full((2, 2, 2), 0.5), m.horizon)


@st.composite
def tiny_mdps(draw, max_states=3, max_actions=2):
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    weights = draw(arrays(np.float64, (S, A, S), elements=st.floats(0, 1)))
    weights[..., 0] += 1e-3
    R = draw(arrays(np.float64, (S, A), elements=st.floats(-1, 1)))
    H = draw(st.integers(1, 3))
    return TabularMDP(P=weights / weights.sum(-1, keepdims=True), R=R, mu0=np.eye(S)[0],
                      horizon=H)


def deterministic_policies(S, A, H):
    for choice in itertools.product(range(A), repeat=S * H):
        yield np.eye(A)[np.array(choice).reshape(H, S)]


@settings(max_examples=60, deadline=None)
@given(tiny_mdps())
def test_backward_induction_equals_brute_force(mdp):
    _, V = backward_induction(mdp.P, mdp.R, mdp.horizon)
    values = np.array([policy_value(mdp.P, mdp.R, pi, mdp.horizon)[0]
                       for pi in deterministic_policies(mdp.num_states, mdp.num_actions,
                                                        mdp.horizon)])
    np.testing.assert_allclose(V[0], values.max(axis=0), atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(tiny_mdps(), st.integers(0, 2**32 - 1), st.floats(0, 0.99))
def test_optimal_values_dominate_random_policies(mdp, seed, discount):
    rng = np.random.default_rng(seed)
    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon
    pi = rng.dirichlet(np.ones(A), size=(H, S))
    _, V = backward_induction(mdp.P, mdp.R, H, discount)
    assert np.all(V[0] >= policy_value(mdp.P, mdp.R, pi, H, discount)[0] - 1e-9)
    _, V_inf = discounted_optimal_values(mdp.P, mdp.R, discount)
    V_pi = discounted_policy_value(mdp.P, mdp.R, pi[0], discount)
    assert np.all(V_inf >= V_pi - 1e-9)


@settings(max_examples=40, deadline=None)
@given(tiny_mdps(), st.floats(0, 0.95))
def test_policy_iteration_equals_brute_force_over_stationary_policies(mdp, discount):
    _, V = discounted_optimal_values(mdp.P, mdp.R, discount)
    values = np.array([discounted_policy_value(mdp.P, mdp.R, pi[0], discount)
                       for pi in deterministic_policies(mdp.num_states, mdp.num_actions, 1)])
    np.testing.assert_allclose(V, values.max(axis=0), atol=1e-8)


def test_long_horizon_values_approach_the_discounted_fixed_point(two_state_mdp):
    m = two_state_mdp
    _, V_finite = backward_induction(m.P, m.R, horizon=400, discount=0.9)
    _, V_inf = discounted_optimal_values(m.P, m.R, discount=0.9)
    np.testing.assert_allclose(V_finite[0], V_inf, rtol=1e-12)


def test_the_reproducible_solve_is_exact_and_independent_of_lapack(monkeypatch):
    """Scores of discounted tasks must not depend on the CPU's LAPACK kernels: scoring
    solves with element-wise operations and correctly rounded sums only."""
    from rlbench_icl import default_registry
    from rlbench_icl.dynprog import solve_reproducibly

    rng = np.random.default_rng(3)
    for n in (1, 7, 40):
        A = np.eye(n) - 0.95 * rng.dirichlet(np.ones(n), size=n)
        b = rng.normal(size=n)
        np.testing.assert_allclose(A @ solve_reproducibly(A, b), b, atol=1e-12)
    with pytest.raises(np.linalg.LinAlgError):
        solve_reproducibly(np.zeros((2, 2)), np.ones(2))
    task = default_registry().make("PaperFrozenLake4x4-v0")
    expected = task.policy_value(task.optimal_policy)

    def lapack(*args, **kwargs):
        raise AssertionError("scoring called LAPACK")

    monkeypatch.setattr(np.linalg, "solve", lapack)
    assert task.policy_value(task.optimal_policy) == expected


@pytest.mark.parametrize("stationary", [True, False])
def test_start_policy_value_is_policy_values_first_row_in_either_form(stationary):
    import scipy.sparse

    from rlbench_icl.builders import garnet
    from rlbench_icl.dynprog import start_policy_value

    m = garnet(num_states=30, num_actions=3, branching=4, seed=5, horizon=12, discount=0.95)
    rng = np.random.default_rng(0)
    shape = (30, 3) if stationary else (12, 30, 3)
    policy = rng.random(shape)
    policy /= policy.sum(axis=-1, keepdims=True)
    expected = policy_value(m.P, m.R, policy, m.horizon, m.discount)[0]
    flat_sparse = scipy.sparse.csr_array(m.P.reshape(90, 30))
    for P in (m.P, flat_sparse):
        got = start_policy_value(P, m.R, policy, m.horizon, m.discount)
        assert got.shape == (30,)
        assert np.array_equal(got, policy_value(P, m.R, policy, m.horizon, m.discount)[0])
        np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_a_large_sparse_discounted_evaluation_iterates_to_the_solve(monkeypatch):
    """Above SPSOLVE_MAX_STATES a sparse policy evaluation iterates (a sparse LU fills in):
    on a small garnet with that bound lowered, it agrees with the solve to 1e-11."""
    import scipy.sparse

    from rlbench_icl import dynprog
    from rlbench_icl.builders import garnet

    m = garnet(num_states=200, num_actions=3, branching=4, seed=2, horizon=10, discount=0.95)
    flat = scipy.sparse.csr_array(m.P.reshape(600, 200))
    policy = np.random.default_rng(1).dirichlet(np.ones(3), size=200)
    solved = dynprog.discounted_policy_value(flat, m.R, policy, 0.95)
    Q_solved = dynprog.discounted_optimal_values(flat, m.R, 0.95)[0]
    monkeypatch.setattr(dynprog, "SPSOLVE_MAX_STATES", 0)
    iterated = dynprog.discounted_policy_value(flat, m.R, policy, 0.95)
    np.testing.assert_allclose(iterated, solved, rtol=1e-11)
    Q_iterated = dynprog.discounted_optimal_values(flat, m.R, 0.95)[0]
    np.testing.assert_allclose(Q_iterated, Q_solved, rtol=1e-11)
    assert np.array_equal(dynprog.greedy_actions(Q_iterated), dynprog.greedy_actions(Q_solved))
