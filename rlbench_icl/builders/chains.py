"""Hard-exploration chains: RiverSwim, DeepSea, and a chain with a distracting nearby reward."""

from __future__ import annotations

import numpy as np

from ..mdp import DENSE_MAX_BYTES, TabularMDP, expected_reward, make_absorbing

LEFT, RIGHT = 0, 1


def riverswim(*, num_states: int = 6, horizon: int = 20, discount: float = 1.0) -> TabularMDP:
    """RiverSwim as in Osband, Russo & Van Roy (2013), start in the leftmost state.

    Swimming left (action 0) always succeeds. Swimming right (action 1) against the current:
    from the left bank stay 0.4 / move 0.6; mid-river back 0.05 / stay 0.6 / on 0.35; at the
    right bank back 0.4 / stay 0.6. Rewards: 5/1000 for left in state 0, 1 for right in the last.
    """
    if num_states < 3:
        raise ValueError(f"riverswim needs num_states >= 3, got {num_states}")
    S, last = num_states, num_states - 1
    states, mid = np.arange(S), np.arange(1, last)
    entries = [  # (states, action, successors, probability), each (s, a, s') once
        (states, LEFT, np.maximum(states - 1, 0), 1.0),
        ([0, 0], RIGHT, [0, 1], [0.4, 0.6]),
        (mid, RIGHT, mid - 1, 0.05), (mid, RIGHT, mid, 0.6), (mid, RIGHT, mid + 1, 0.35),
        ([last, last], RIGHT, [last - 1, last], [0.4, 0.6]),
    ]
    rows = np.concatenate([np.asarray(s) * 2 + a for s, a, _, _ in entries])
    cols = np.concatenate([np.asarray(t) for _, _, t, _ in entries])
    probs = np.concatenate([np.broadcast_to(p, np.shape(t)) for _, _, t, p in entries])
    R = np.zeros((S, 2))
    R[0, LEFT], R[last, RIGHT] = 5 / 1000, 1.0
    mu0 = (states == 0).astype(float)
    return TabularMDP(P=_transition_matrix(rows, cols, probs, S, 2), R=R, mu0=mu0,
                      horizon=horizon, discount=discount)


def _transition_matrix(rows, cols, probs, S: int, A: int):
    """P from its distinct entries: the dense (S, A, S) array, or a CSR (S*A, S) matrix when
    that would pass ``DENSE_MAX_BYTES`` (long chains)."""
    if S * A * S * 8 <= DENSE_MAX_BYTES:
        P = np.zeros((S * A, S))
        P[rows, cols] = probs
        return P.reshape(S, A, S)
    import scipy.sparse  # only large chains need it

    return scipy.sparse.csr_array((probs, (rows, cols)), shape=(S * A, S))


def deep_sea(*, size: int, mapping_seed: int, move_cost: float = 0.01, horizon: int | None = None,
             discount: float = 1.0) -> TabularMDP:
    """bsuite's deterministic DeepSea (Osband et al. 2019), one state per cell plus an end state.

    Start at row 0, column 0 of a size x size grid; every step goes one row down. In each cell
    one action (drawn Bernoulli(1/2) from ``mapping_seed``) means "right": column + 1 at a cost
    of ``move_cost / size``; the other means "left": column - 1, free (both clipped to the grid).
    Right in the last column pays +1. After ``size`` steps the episode ends. Optimal return
    ``1 - move_cost``; a random agent finds it with probability ``2**-size``.

    Built as one successor per (s, a), so sizes in the hundreds (10^5 states and more) are
    stored sparse by ``TabularMDP``.
    """
    import scipy.sparse  # the successor lists become a (S*A, S) matrix

    horizon = size if horizon is None else horizon
    N = size
    S, end = N * N + 1, N * N
    right_action = np.random.default_rng(mapping_seed).integers(0, 2, size=(N, N))
    row, col = np.divmod(np.arange(N * N), N)
    moves_right = np.stack([right_action.ravel() == a for a in (0, 1)], axis=1)  # (N*N, 2)
    next_col = np.where(moves_right, np.minimum(col + 1, N - 1)[:, None],
                        np.maximum(col - 1, 0)[:, None])
    successor = np.where(row[:, None] == N - 1, end, (row[:, None] + 1) * N + next_col)
    successor = np.concatenate([successor, [[end, end]]])  # the end state is absorbing
    R = np.zeros((S, 2))
    R[:end] = np.where(moves_right, -move_cost / N + (col == N - 1)[:, None], 0.0)
    P = scipy.sparse.csr_array((np.ones(2 * S), successor.ravel(), np.arange(2 * S + 1)),
                               shape=(2 * S, S))
    states = np.arange(S)
    return TabularMDP(P=P, R=R, mu0=(states == 0).astype(float), horizon=horizon,
                      discount=discount, terminal=states == end)


def distractor_chain(*, num_states: int, start: int, near_reward: float, far_reward: float,
                     slip: float, horizon: int, discount: float = 1.0) -> TabularMDP:
    """A corridor whose ends are both terminal: a small reward near the start, a large one far.

    Action 0 moves left, action 1 right; with probability ``slip`` the move goes the other way.
    Entering state 0 pays ``near_reward``, entering the last state pays ``far_reward``. A greedy
    learner that finds the near end first keeps returning to it.
    """
    S, last = num_states, num_states - 1
    if not 0 < start < last:
        raise ValueError(f"start must be strictly inside the chain (0, {last}), got {start}")
    P = np.zeros((S, 2, S))
    for s in range(1, last):
        for a, step in ((LEFT, -1), (RIGHT, +1)):
            P[s, a, s + step] += 1.0 - slip
            P[s, a, s - step] += slip
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, last]] = True
    P, _ = make_absorbing(P, np.zeros((S, 2)), terminal)
    R_next = np.zeros((S, 2, S))
    R_next[~terminal, :, 0], R_next[~terminal, :, last] = near_reward, far_reward
    return TabularMDP(P=P, R=expected_reward(P, R_next), mu0=np.eye(S)[start], horizon=horizon,
                      discount=discount, terminal=terminal, R_next=R_next)
