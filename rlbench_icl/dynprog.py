"""Exact dynamic programming on known tabular models: pure, vectorised functions of arrays.

Finite horizon (H steps, discount gamma): ``Q[h, s, a] = R[s, a] + gamma * P[s, a] @ V[h + 1]``
with ``V[H] = 0``. Infinite-horizon discounted (gamma < 1): exact policy evaluation by a linear
solve, and exact optimal values by policy iteration (finite, no tolerance to tune).

Every function takes the transitions ``P`` either as the (S, A, S) array or as its flat
(S*A, S) form, dense or ``scipy.sparse`` (``flat_transitions`` builds the best one, once).
Large sparse models (Taxi: 500 states, one successor per pair) then cost the number of
non-zero transitions, not S*A*S. Agents call these on their empirical models too.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np

SPARSE_MIN_STATES = 64
SPARSE_MAX_DENSITY = 0.1
# Above this many states a sparse discounted policy evaluation iterates instead of solving
# (a sparse LU fills in); every scored task has at most 500 states, so none of their values
# changes. ITERATION_TOL: the relative step at which the iteration stops.
SPSOLVE_MAX_STATES = 5_000
ITERATION_TOL = 1e-13
GREEDY_TIE_TOL = 1e-12


def flat_transitions(P):
    """``P`` as an (S*A, S) matrix: ``scipy.sparse`` CSR when large and sparse, else dense.

    ``P`` is the (S, A, S) array, its flat (S*A, S) form, or a sparse (S*A, S) matrix. The
    choice depends on the transitions only, never on the form they came in: an MDP stored
    sparse gets the very matrix its dense form would, so their values are the same bits."""
    if issparse(P):
        S = P.shape[1]
        if S >= SPARSE_MIN_STATES and P.nnz <= SPARSE_MAX_DENSITY * P.shape[0] * S:
            return P
        return P.toarray()
    if P.ndim == 2:
        return P
    S, A = P.shape[0], P.shape[1]
    flat = P.reshape(S * A, S)
    if S >= SPARSE_MIN_STATES and np.count_nonzero(flat) <= SPARSE_MAX_DENSITY * flat.size:
        import scipy.sparse  # here, not at the top: scipy costs a CLI start 0.3 s

        return scipy.sparse.csr_array(flat)
    return flat


def exact_transitions(P):
    """``P`` as a ``scipy.sparse`` CSR (S*A, S) matrix, whatever its form, for values that
    must be the same bits on every machine: a CSR product sums each row's entries one by
    one, in column order, while a dense product goes to BLAS, whose kernel (and so the
    order of its sums) depends on the CPU. Measured: 7 of the 126 scored tasks' exact
    values differ in their last bits between OpenBLAS's Zen and SkylakeX kernels through
    the dense product, none through this one."""
    import scipy.sparse  # here, not at the top: scipy costs a CLI start 0.3 s

    if issparse(P):  # a sparse task's P is a CSR already: no copy of its transitions
        return P if P.format == "csr" else scipy.sparse.csr_array(P)
    flat = P if P.ndim == 2 else P.reshape(P.shape[0] * P.shape[1], P.shape[2])
    return scipy.sparse.csr_array(flat)


def start_value(mu0: np.ndarray, V: np.ndarray) -> float:
    """``mu0 @ V`` as the same bits on every CPU: ``math.fsum`` of the products, correctly
    rounded (a BLAS dot product's order of sums depends on its kernel)."""
    return math.fsum(np.multiply(mu0, V))


def issparse(matrix) -> bool:
    """Whether ``matrix`` is a ``scipy.sparse`` one, without importing scipy: none can exist
    before ``scipy.sparse`` is imported."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(matrix)


def backward_induction(P, R: np.ndarray, horizon: int, discount: float = 1.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Optimal finite-horizon values.

    Args:
        P: (S, A, S) transitions, or their flat (S*A, S) form. R: (S, A) expected rewards.
        horizon: H >= 1. discount: gamma in [0, 1].

    Returns:
        Q: (H, S, A) optimal action values; V: (H + 1, S) optimal state values, ``V[H] = 0``.
    """
    flat, S, A = _check_model(P, R)
    Q = np.empty((horizon, S, A))
    V = np.zeros((horizon + 1, S))
    for h in range(horizon - 1, -1, -1):
        Q[h] = R + discount * (flat @ V[h + 1]).reshape(S, A)
        V[h] = Q[h].max(axis=1)
    return Q, V


def policy_value(P, R: np.ndarray, policy: np.ndarray, horizon: int,
                 discount: float = 1.0) -> np.ndarray:
    """Finite-horizon value of a stochastic policy.

    Args:
        policy: (S, A) stationary or (H, S, A) non-stationary action probabilities.

    Returns:
        V: (H + 1, S) with ``V[h, s]`` the expected discounted return from step h in state s.
    """
    flat, S, A = _check_model(P, R)
    policy = _check_policy(policy, S, A, horizon)
    V = np.zeros((horizon + 1, S))
    if policy.ndim == 2:  # collapse to the (S, S) chain once: H mat-vecs of size S * S
        P_pi, r_pi = policy_chain(flat, R, policy)
        for h in range(horizon - 1, -1, -1):
            V[h] = r_pi + discount * (P_pi @ V[h + 1])
        return V
    for h in range(horizon - 1, -1, -1):
        Q_h = R + discount * (flat @ V[h + 1]).reshape(S, A)
        V[h] = np.einsum("sa,sa->s", policy[h], Q_h)
    return V


def start_policy_value(P, R: np.ndarray, policy: np.ndarray, horizon: int,
                       discount: float = 1.0) -> np.ndarray:
    """``policy_value(...)[0]``, (S,). A sparse ``P`` (a large task) keeps one (S,) value
    at a time instead of H + 1 of them, with the same numbers (scipy's sparse product does
    not depend on where the vector lies in memory; a dense BLAS one might, so dense ``P``
    keeps ``policy_value``'s layout)."""
    flat, S, A = _check_model(P, R)
    if not issparse(flat):
        return policy_value(flat, R, policy, horizon, discount)[0]
    policy = _check_policy(policy, S, A, horizon)
    V = np.zeros(S)
    if policy.ndim == 2:
        P_pi, r_pi = policy_chain(flat, R, policy)
        for _ in range(horizon):
            V = r_pi + discount * (P_pi @ V)
        return V
    for h in range(horizon - 1, -1, -1):
        V = np.einsum("sa,sa->s", policy[h], R + discount * (flat @ V).reshape(S, A))
    return V


def policy_chain(P, R: np.ndarray, policy: np.ndarray):
    """The Markov chain ``P_pi`` (S, S) and reward ``r_pi`` (S,) of a stationary policy."""
    flat, S, A = _check_model(P, R)
    r_pi = np.einsum("sa,sa->s", policy, R)
    if issparse(flat):
        import scipy.sparse

        rows = np.repeat(np.arange(S), A)
        weights = scipy.sparse.csr_array((policy.ravel(), (rows, np.arange(S * A))),
                                         shape=(S, S * A))
        return (weights @ flat).tocsr(), r_pi
    return np.einsum("sa,sat->st", policy, flat.reshape(S, A, S)), r_pi


def greedy_policy(Q: np.ndarray) -> np.ndarray:
    """One-hot greedy policy with the same leading shape as ``Q`` (..., S, A).

    Ties break towards the lowest action index, after treating values within
    ``GREEDY_TIE_TOL`` of the maximum as tied (so float noise never decides).
    """
    return np.eye(Q.shape[-1])[greedy_actions(Q)]


def greedy_actions(Q: np.ndarray, best_value: np.ndarray | None = None) -> np.ndarray:
    """The action indices of ``greedy_policy(Q)``: shape (...,) for ``Q`` (..., S, A).
    ``best_value``: ``Q.max(axis=-1)`` if the caller has it already."""
    if best_value is None:
        best_value = Q.max(axis=-1)
    return np.argmax(Q >= best_value[..., None] - GREEDY_TIE_TOL, axis=-1)


def optimal_actions(P, R: np.ndarray, horizon: int, discount: float = 1.0) -> np.ndarray:
    """``greedy_actions`` of ``backward_induction``'s Q, (H, S), without keeping Q: memory
    S * H small integers instead of S * A * H floats (a million-state task's exact values)."""
    flat, S, A = _check_model(P, R)
    actions = np.empty((horizon, S), dtype=np.min_scalar_type(A - 1))
    V = np.zeros(S)
    for h in range(horizon - 1, -1, -1):
        Q = R + discount * (flat @ V).reshape(S, A)  # backward_induction's numbers
        V = functools.reduce(np.maximum, Q.T)  # Q.max(axis=1), 4x faster for small A
        actions[h] = greedy_actions(Q, V)
    return actions


def actions_value(P, R: np.ndarray, actions: np.ndarray, discount: float = 1.0
                  ) -> np.ndarray:
    """Finite-horizon value at step 0, (S,), of the deterministic policy taking
    ``actions[h, s]``: the same numbers as ``policy_value`` of its one-hot (H, S, A) form,
    whose sum over actions adds only exact zeros, in memory S instead of S * A * H.

    A sparse ``P`` multiplies only the chosen (s, a) rows: each row's sum is the same
    sequence of additions as in the whole product, at 1/A of its cost."""
    flat, S, A = _check_model(P, R)
    V, states = np.zeros(S), np.arange(S)
    for h in range(len(actions) - 1, -1, -1):
        if issparse(flat):
            rows = states * A + actions[h]
            V = R[states, actions[h]] + discount * (flat[rows] @ V)
        else:
            V = (R + discount * (flat @ V).reshape(S, A))[states, actions[h]]
    return V


def uniform_policy(num_states: int, num_actions: int) -> np.ndarray:
    """(S, A) uniform-random policy."""
    return np.full((num_states, num_actions), 1.0 / num_actions)


def discounted_policy_value(P, R: np.ndarray, policy: np.ndarray, discount: float,
                            reproducible: bool = False) -> np.ndarray:
    """Infinite-horizon discounted value (S,) of a stationary (S, A) policy, by a linear solve.

    ``reproducible``: the same bits on every CPU (``solve_reproducibly``, slower), as scores
    need; else LAPACK's solver, as planning on an empirical model may use."""
    flat, S, A = _check_model(P, R)
    if not 0.0 <= discount < 1.0:
        raise ValueError(f"infinite-horizon values need discount in [0, 1), got {discount}")
    policy = _check_policy(policy, S, A, horizon=None)
    P_pi, r_pi = policy_chain(flat, R, policy)
    if issparse(P_pi) and S > SPSOLVE_MAX_STATES:
        return _iterated_policy_value(P_pi, r_pi, discount)
    if issparse(P_pi):
        import scipy.sparse.linalg

        system = scipy.sparse.identity(S, format="csc") - discount * P_pi.tocsc()
        return scipy.sparse.linalg.spsolve(system, r_pi)
    system = np.eye(S) - discount * P_pi
    return solve_reproducibly(system, r_pi) if reproducible else np.linalg.solve(system, r_pi)


def _iterated_policy_value(P_pi, r_pi: np.ndarray, discount: float) -> np.ndarray:
    """``V = r_pi + discount * P_pi V`` by iterating it from 0 until a step changes no value
    by more than ``ITERATION_TOL`` (relative to the largest): time and memory linear in the
    transitions, where a sparse LU (``spsolve``) fills in (measured on garnets with 5
    successors per pair: 0.7 s at S = 3,000, 24 s at 10^4, 208 s and 2.2 GB at 2 * 10^4).
    The error left is at most ``discount / (1 - discount)`` times the last step."""
    if discount >= 1.0:
        raise ValueError(f"iterated evaluation needs discount < 1, got {discount}")
    V = np.zeros_like(r_pi)
    while True:
        new = r_pi + discount * (P_pi @ V)
        step = float(np.max(np.abs(new - V)))
        V = new
        if step <= ITERATION_TOL * (1.0 + float(np.max(np.abs(V)))):
            return V


def solve_reproducibly(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x`` with ``A x = b`` (A square, non-singular), the same bits on every CPU.

    LAPACK's solver (``np.linalg.solve``) picks kernels by CPU, so the last bits of a value
    could differ between machines and a stored result would not reproduce elsewhere.
    Gaussian elimination with partial pivoting in element-wise numpy operations (each
    correctly rounded, whatever the SIMD width), and back substitution with ``math.fsum``
    (correctly rounded sums), are the same everywhere: 0.3 ms at S = 25, 0.14 s at S = 500.
    """
    A = np.array(A, dtype=np.float64)
    b = np.array(b, dtype=np.float64)
    n = len(b)
    for k in range(n):
        pivot = k + int(np.argmax(np.abs(A[k:, k])))
        if A[pivot, k] == 0.0:
            raise np.linalg.LinAlgError("singular matrix")
        if pivot != k:
            A[[k, pivot]], b[[k, pivot]] = A[[pivot, k]], b[[pivot, k]]
        factors = A[k + 1:, k] / A[k, k]
        A[k + 1:, k:] -= np.multiply.outer(factors, A[k, k:])
        b[k + 1:] -= factors * b[k]
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (b[i] - math.fsum(A[i, i + 1:] * x[i + 1:])) / A[i, i]
    return x


def discounted_optimal_values(P, R: np.ndarray, discount: float,
                              max_iterations: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-horizon optimal ``Q`` (S, A) and ``V`` (S,) by exact policy iteration."""
    flat, S, A = _check_model(P, R)
    policy = uniform_policy(S, A)
    for _ in range(max_iterations):
        V = discounted_policy_value(flat, R, policy, discount)
        Q = R + discount * (flat @ V).reshape(S, A)
        # Keep the current action unless another is better by more than float noise, so
        # policy iteration cannot cycle between tied actions.
        current = np.einsum("sa,sa->s", policy, Q)
        improve = Q.max(axis=1) > current + 1e-10 * (1.0 + np.abs(current))
        if not improve.any():
            return Q, V
        policy = np.where(improve[:, None], greedy_policy(Q), policy)
    raise RuntimeError(f"policy iteration did not converge in {max_iterations} iterations")


def _check_model(P, R: np.ndarray):
    """``(flat P, S, A)``, after checking that P and R agree in shape."""
    if R.ndim != 2:
        raise ValueError(f"R must have shape (S, A), got {R.shape}")
    S, A = R.shape
    if P.shape not in ((S, A, S), (S * A, S)):
        raise ValueError(f"P has shape {P.shape}: expected (S, A, S) = {(S, A, S)} or its "
                         f"flat form {(S * A, S)} for R of shape {R.shape}")
    return (P.reshape(S * A, S) if P.ndim == 3 else P), S, A


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
