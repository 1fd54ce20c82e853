"""Exact dynamic programming on known tabular models: pure, vectorised functions of arrays.

Finite horizon (H steps, discount gamma): ``Q[h, s, a] = R[s, a] + gamma * P[s, a] @ V[h + 1]``
with ``V[H] = 0``. Infinite-horizon discounted (gamma < 1): exact policy evaluation by a linear
solve, and exact optimal values by policy iteration (finite, no tolerance to tune).

Agents call these on their empirical models instead of re-deriving them. Large sparse models
(Taxi: 500 states, one successor per pair) are multiplied as a sparse (S*A, S) matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse

SPARSE_MIN_STATES = 64
SPARSE_MAX_DENSITY = 0.1

GREEDY_TIE_TOL = 1e-12


def backward_induction(P: np.ndarray, R: np.ndarray, horizon: int, discount: float = 1.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Optimal finite-horizon values.

    Args:
        P: (S, A, S) transitions. R: (S, A) expected rewards.
        horizon: H >= 1. discount: gamma in [0, 1].

    Returns:
        Q: (H, S, A) optimal action values; V: (H + 1, S) optimal state values, ``V[H] = 0``.
    """
    S, A = _check_model(P, R)
    expect = next_value_operator(P)
    Q = np.empty((horizon, S, A))
    V = np.zeros((horizon + 1, S))
    for h in range(horizon - 1, -1, -1):
        Q[h] = R + discount * expect(V[h + 1])
        V[h] = Q[h].max(axis=1)
    return Q, V


def policy_value(P: np.ndarray, R: np.ndarray, policy: np.ndarray, horizon: int,
                 discount: float = 1.0) -> np.ndarray:
    """Finite-horizon value of a stochastic policy.

    Args:
        policy: (S, A) stationary or (H, S, A) non-stationary action probabilities.

    Returns:
        V: (H + 1, S) with ``V[h, s]`` the expected discounted return from step h in state s.
    """
    S, A = _check_model(P, R)
    policy = _check_policy(policy, S, A, horizon)
    expect = next_value_operator(P)
    V = np.zeros((horizon + 1, S))
    for h in range(horizon - 1, -1, -1):
        pi_h = policy if policy.ndim == 2 else policy[h]
        V[h] = np.einsum("sa,sa->s", pi_h, R + discount * expect(V[h + 1]))
    return V


def next_value_operator(P: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``V (S,) -> (S, A)`` computing ``sum_s' P[s, a, s'] V[s']``.

    Uses a sparse matrix when the model is large and sparse (the product then costs the
    number of non-zero transitions rather than S * A * S).
    """
    S, A = P.shape[0], P.shape[1]
    flat = P.reshape(S * A, S)
    if S >= SPARSE_MIN_STATES and np.count_nonzero(flat) <= SPARSE_MAX_DENSITY * flat.size:
        flat = scipy.sparse.csr_array(flat)
    return lambda V: (flat @ V).reshape(S, A)


def greedy_policy(Q: np.ndarray) -> np.ndarray:
    """One-hot greedy policy with the same leading shape as ``Q`` (..., S, A).

    Ties break towards the lowest action index, after treating values within
    ``GREEDY_TIE_TOL`` of the maximum as tied (so float noise never decides).
    """
    best = Q >= Q.max(axis=-1, keepdims=True) - GREEDY_TIE_TOL
    first = np.argmax(best, axis=-1)
    return np.eye(Q.shape[-1])[first]


def uniform_policy(num_states: int, num_actions: int) -> np.ndarray:
    """(S, A) uniform-random policy."""
    return np.full((num_states, num_actions), 1.0 / num_actions)


def discounted_policy_value(P: np.ndarray, R: np.ndarray, policy: np.ndarray,
                            discount: float) -> np.ndarray:
    """Infinite-horizon discounted value (S,) of a stationary (S, A) policy, by a linear solve."""
    S, A = _check_model(P, R)
    if not 0.0 <= discount < 1.0:
        raise ValueError(f"infinite-horizon values need discount in [0, 1), got {discount}")
    policy = _check_policy(policy, S, A, horizon=None)
    P_pi = np.einsum("sa,sat->st", policy, P)
    r_pi = np.einsum("sa,sa->s", policy, R)
    return np.linalg.solve(np.eye(S) - discount * P_pi, r_pi)


def discounted_optimal_values(P: np.ndarray, R: np.ndarray, discount: float,
                              max_iterations: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-horizon optimal ``Q`` (S, A) and ``V`` (S,) by exact policy iteration."""
    S, A = _check_model(P, R)
    policy = uniform_policy(S, A)
    expect = next_value_operator(P)
    for _ in range(max_iterations):
        V = discounted_policy_value(P, R, policy, discount)
        Q = R + discount * expect(V)
        # Keep the current action unless another is better by more than float noise, so
        # policy iteration cannot cycle between tied actions.
        current = np.einsum("sa,sa->s", policy, Q)
        improve = Q.max(axis=1) > current + 1e-10 * (1.0 + np.abs(current))
        if not improve.any():
            return Q, V
        policy = np.where(improve[:, None], greedy_policy(Q), policy)
    raise RuntimeError(f"policy iteration did not converge in {max_iterations} iterations")


def _check_model(P: np.ndarray, R: np.ndarray) -> tuple[int, int]:
    if P.ndim != 3 or P.shape[0] != P.shape[2] or R.shape != P.shape[:2]:
        raise ValueError(f"expected P (S, A, S) and R (S, A), got {P.shape} and {R.shape}")
    return P.shape[0], P.shape[1]


def _check_policy(policy, num_states: int, num_actions: int, horizon: int | None) -> np.ndarray:
    policy = np.asarray(policy, dtype=np.float64)
    stationary = (num_states, num_actions)
    allowed = [stationary] + ([] if horizon is None else [(horizon, *stationary)])
    if policy.shape not in allowed:
        raise ValueError(f"policy has shape {policy.shape}: expected one of {allowed}")
    if not np.all(np.isfinite(policy)) or policy.min() < 0:
        raise ValueError("policy has a negative or non-finite probability")
    if np.abs(policy.sum(axis=-1) - 1.0).max() > 1e-6:
        raise ValueError("policy rows must sum to 1 (tolerance 1e-6)")
    return policy
