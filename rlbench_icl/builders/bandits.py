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


def gap_bandit(*, num_arms: int, best_mean: float, gap: float, seed: int, horizon: int = 1,
               discount: float = 1.0, noise: str = "bernoulli", reward_std: float = 1.0
               ) -> TabularMDP:
    """A bandit whose best arm beats every other by at least ``gap``: the other arms' means
    are uniform in [best - 2 gap, best - gap]; the best arm's place is drawn from ``seed``.
    ``noise``: ``bernoulli`` (means in [0, 1]) or ``gaussian`` (std ``reward_std``)."""
    if num_arms < 2 or gap <= 0:
        raise ValueError(f"a gap bandit needs >= 2 arms and gap > 0, got {num_arms}, {gap}")
    rng = np.random.default_rng(seed)
    means = best_mean - gap * (1.0 + rng.random(num_arms))
    means[rng.integers(num_arms)] = best_mean
    if noise == "bernoulli":
        if not 0.0 <= means.min() <= best_mean <= 1.0:
            raise ValueError(f"Bernoulli means must lie in [0, 1]: best {best_mean}, gap {gap}")
        return bernoulli_bandit(means=means.tolist(), horizon=horizon, discount=discount)
    if noise != "gaussian":
        raise ValueError(f"noise must be 'bernoulli' or 'gaussian', got {noise!r}")
    return TabularMDP(P=np.ones((1, num_arms, 1)), R=means[None, :], mu0=np.ones(1),
                      horizon=horizon, discount=discount, reward_noise="gaussian",
                      reward_std=reward_std)
