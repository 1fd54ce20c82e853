"""Garnet MDPs (Archibald, McKinnon & Thomas 1995): random sparse tabular MDPs at fixed seeds.

Each (s, a) has ``branching`` distinct successors drawn uniformly; their probabilities cut the
unit interval at ``branching - 1`` uniform points (the original "broken stick"). Rewards are
deterministic, uniform in [0, 1). Only uniform draws are used, so the arrays are bit-identical
on every platform.
"""

from __future__ import annotations

import numpy as np

from ..mdp import TabularMDP


def garnet(*, num_states: int, num_actions: int, branching: int, seed: int, horizon: int,
           discount: float = 1.0, reward_density: float = 1.0) -> TabularMDP:
    """A Garnet(S, A, b) MDP with uniform initial distribution. With ``reward_density`` < 1
    each pair keeps its reward with that probability (else it pays 0): sparse rewards."""
    if not 0.0 < reward_density <= 1.0:
        raise ValueError(f"reward_density must be in (0, 1], got {reward_density}")
    if not 1 <= branching <= num_states:
        raise ValueError(f"branching must be in [1, num_states={num_states}], got {branching}")
    rng = np.random.default_rng(seed)
    S, A, b = num_states, num_actions, branching
    P = np.zeros((S, A, S))
    for s in range(S):
        for a in range(A):
            successors = rng.permutation(S)[:b]
            cuts = np.sort(rng.random(b - 1))
            P[s, a, successors] = np.diff(np.concatenate([[0.0], cuts, [1.0]]))
    R = rng.random((S, A))
    if reward_density < 1.0:  # drawn only then: dense garnets keep their arrays
        R = np.where(rng.random((S, A)) < reward_density, R, 0.0)
    return TabularMDP(P=P, R=R, mu0=np.full(S, 1.0 / S), horizon=horizon, discount=discount)


def sparse_garnet(*, num_states: int, num_actions: int, branching: int, seed: int,
                  horizon: int, discount: float = 1.0) -> TabularMDP:
    """A Garnet(S, A, b) built in vectorised draws as a sparse matrix, for S up to millions.

    The same distribution as ``garnet`` (``branching`` distinct uniform successors per pair,
    broken-stick probabilities, rewards uniform in [0, 1), uniform start), from a different
    random stream: ``garnet`` draws a permutation of all S states per pair, S * S * A draws in
    all. Successors are drawn with replacement and the pairs that drew a state twice draw
    again until theirs are distinct (with b << S, a few rounds).
    """
    import scipy.sparse  # only large tasks need it

    if not 1 <= branching <= num_states:
        raise ValueError(f"branching must be in [1, num_states={num_states}], got {branching}")
    rng = np.random.default_rng(seed)
    S, A, b = num_states, num_actions, branching
    successors = _distinct_successors(rng, S * A, S, b)
    cuts = np.sort(rng.random((S * A, b - 1)), axis=1)
    edges = np.concatenate([np.zeros((S * A, 1)), cuts, np.ones((S * A, 1))], axis=1)
    probs = np.diff(edges, axis=1)
    rows = np.repeat(np.arange(S * A), b)
    P = scipy.sparse.coo_array((probs.ravel(), (rows, successors.ravel())),
                               shape=(S * A, S)).tocsr()
    R = rng.random((S, A))
    return TabularMDP(P=P, R=R, mu0=np.full(S, 1.0 / S), horizon=horizon, discount=discount)


def _distinct_successors(rng: np.random.Generator, pairs: int, S: int, b: int) -> np.ndarray:
    """(pairs, b) successors, distinct within each row, uniform over such rows."""
    successors = rng.integers(0, S, size=(pairs, b))
    while True:
        ordered = np.sort(successors, axis=1)
        clash = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
        if not len(clash):
            return successors
        successors[clash] = rng.integers(0, S, size=(len(clash), b))
