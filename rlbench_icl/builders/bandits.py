"""Multi-armed bandits: the one-state edge case of a tabular MDP."""

from __future__ import annotations

import numpy as np

from ..mdp import TabularMDP


def bernoulli_bandit(*, means: list[float], horizon: int = 1, discount: float = 1.0
                     ) -> TabularMDP:
    """One state, one arm per action, reward ``~ Bernoulli(means[a])``; an episode is H pulls."""
    means = np.asarray(means, dtype=float)
    if means.ndim != 1 or len(means) == 0:
        raise ValueError(f"means must be a non-empty list of numbers, got {means.tolist()!r}")
    A = len(means)
    return TabularMDP(P=np.ones((1, A, 1)), R=means[None, :], mu0=np.ones(1), horizon=horizon,
                      discount=discount, reward_noise="bernoulli")
