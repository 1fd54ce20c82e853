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
