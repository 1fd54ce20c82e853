"""Training contexts: the experience statistic an agent would hold, drawn for a synthetic MDP.

Two kinds, mixed by weight:

- ``poisson`` (the paper's): per MDP a rate lambda ~ LogUniform(0.1, 10); per (s, a) a count
  n ~ Poisson(lambda) and n successors drawn from the true P. Cheap, but unlike what an online
  agent sees: its counts come from its own trajectories, skewed and growing to thousands.
- ``trajectories``: whole episodes of a behaviour policy — uniform, epsilon-greedy on Q*, or
  Boltzmann on Q* with a random temperature (near-uniform to near-greedy, like the model's own
  sampling as it learns) — for a log-uniform number of episodes (1 to 500).
  ``behaviour = "blind"`` draws the same three kinds around a random preference instead of
  Q*: the counts then say nothing about which action is best, so a network trained on them
  must read that from the rewards and transitions (an agent's own choices depend only on
  its past data, so they carry no information beyond it; an informed behaviour's do).

Everything is numpy and vectorised over parallel episodes; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..experience import ExperienceStatistic
from ..mdp import TabularMDP


@dataclass(frozen=True)
class ContextConfig:
    """How contexts are drawn.

    Attributes:
        poisson_weight: probability of a Poisson context (else trajectories).
        rate: (low, high) of the log-uniform Poisson rate lambda.
        episodes: (low, high) of the log-uniform number of behaviour episodes.
        max_steps: cap on the total number of steps of a trajectory context (keeps batches
            cheap; the counts of longer contexts are scaled up to the drawn episode count).
        behaviour: ``informed`` (the behaviours lean toward Q*'s best actions) or ``blind``
            (toward random ones; the MDP is not consulted).
    """

    poisson_weight: float = 0.3
    rate: tuple[float, float] = (0.1, 10.0)
    episodes: tuple[int, int] = (1, 500)
    max_steps: int = 20_000
    behaviour: str = "informed"

    def __post_init__(self) -> None:
        if self.behaviour not in ("informed", "blind"):
            raise ValueError(f"behaviour must be 'informed' or 'blind', got {self.behaviour!r}")


def sample_context(rng: np.random.Generator, mdp: TabularMDP, q_star: np.ndarray,
                   config: ContextConfig) -> ExperienceStatistic:
    """A statistic for ``mdp``; ``q_star`` (S, A) drives the informed behaviours."""
    if rng.random() < config.poisson_weight:
        return poisson_context(rng, mdp, config)
    if config.behaviour == "blind":
        q_star = rng.standard_normal(q_star.shape)  # a random preference stands in for Q*
    return trajectory_context(rng, mdp, _behaviour(rng, q_star), config)


def poisson_context(rng, mdp: TabularMDP, config: ContextConfig) -> ExperienceStatistic:
    S, A = mdp.num_states, mdp.num_actions
    rate = np.exp(rng.uniform(*np.log(config.rate)))
    n = rng.poisson(rate, size=(S, A))
    n[mdp.terminal] = 0
    stat = ExperienceStatistic(S, A)
    for s, a in zip(*np.nonzero(n), strict=True):
        stat.transition_counts[s, a] = rng.multinomial(n[s, a], mdp.P[s, a])
    _add_rewards(stat, mdp, rng)
    return stat


def trajectory_context(rng, mdp: TabularMDP, behaviour: np.ndarray,
                       config: ContextConfig) -> ExperienceStatistic:
    """Counts of ``num_episodes`` episodes of ``behaviour`` (S, A), simulated in parallel."""
    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon
    episodes = int(np.exp(rng.uniform(*np.log(config.episodes))))
    walkers = max(1, min(episodes, config.max_steps // H))
    stat = ExperienceStatistic(S, A)
    state = _draw(rng, np.broadcast_to(mdp.mu0, (walkers, S)))
    alive = np.ones(walkers, dtype=bool)
    for _ in range(H):
        if not alive.any():
            break
        s = state[alive]
        a = _draw(rng, behaviour[s])
        s_next = _draw(rng, mdp.P[s, a])
        np.add.at(stat.transition_counts, (s, a, s_next), 1.0)
        state[alive] = s_next
        alive[alive] = ~mdp.terminal[s_next]
    if episodes > walkers:  # stand-in for more episodes of the same behaviour
        stat.transition_counts *= episodes / walkers
        stat.transition_counts = np.round(stat.transition_counts)
    _add_rewards(stat, mdp, rng)
    return stat


def _behaviour(rng, q_star: np.ndarray) -> np.ndarray:
    S, A = q_star.shape
    kind = rng.integers(3)
    if kind == 0:
        return np.full((S, A), 1.0 / A)
    greedy = np.eye(A)[np.argmax(q_star, axis=1)]
    if kind == 1:
        eps = rng.random()
        return eps / A + (1 - eps) * greedy
    spread = q_star.max() - q_star.min()
    temperature = max(spread, 1e-6) * np.exp(rng.uniform(np.log(0.01), np.log(3.0)))
    logits = (q_star - q_star.max(axis=1, keepdims=True)) / temperature
    probs = np.exp(logits)
    return probs / probs.sum(axis=1, keepdims=True)


def _draw(rng, probs: np.ndarray) -> np.ndarray:
    """One index per row of ``probs`` (N, K)."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=1), probs.shape[1] - 1)


def _add_rewards(stat: ExperienceStatistic, mdp: TabularMDP, rng: np.random.Generator
                 ) -> None:
    """The rewards of the counted transitions: deterministic given the successor (garnets,
    chains), or noisy (``mdp.reward_noise``: bandits), then drawn per pair, as if each visit
    were paid apart; a deterministic MDP draws no random numbers."""
    R_next = mdp.R_next if mdp.R_next is not None else np.broadcast_to(
        mdp.R[..., None], mdp.P.shape)
    entered = stat.transition_counts.sum(axis=(0, 1)) > 0
    stat.terminal_seen = entered & mdp.terminal
    if mdp.reward_noise != "deterministic":
        _add_noisy_rewards(stat, mdp, rng)
        return
    stat.reward_sums = np.einsum("sat,sat->sa", stat.transition_counts, R_next)
    stat.reward_sq_sums = np.einsum("sat,sat->sa", stat.transition_counts, R_next ** 2)
    seen = stat.transition_counts > 0
    stat.max_abs_reward = float(np.abs(R_next[seen]).max()) if seen.any() else 0.0


def _add_noisy_rewards(stat: ExperienceStatistic, mdp: TabularMDP, rng: np.random.Generator
                       ) -> None:
    """Sums of n noisy rewards per pair, drawn in closed form: Binomial(n, R) for Bernoulli
    rewards (each reward is 0 or 1, so the squares sum alike); for Gaussian ones (R + sd z),
    sum z = sqrt(n) u with u ~ N(0, 1) and sum z^2 = u^2 + chi2(n - 1), independent. The
    largest |reward| seen: 1 once a Bernoulli pair paid; for Gaussian rewards the expected
    maximum of n draws, |R| + sd sqrt(2 ln n), stands in for it."""
    n = np.rint(stat.transition_counts.sum(axis=2)).astype(np.int64)
    R, sd = mdp.R, mdp.reward_std
    if mdp.reward_noise == "bernoulli":
        stat.reward_sums = rng.binomial(n, np.clip(R, 0.0, 1.0)).astype(float)
        stat.reward_sq_sums = stat.reward_sums.copy()
        stat.max_abs_reward = float(stat.reward_sums.max() > 0) if n.any() else 0.0
        return
    u = rng.standard_normal(n.shape) * (n > 0)
    chi = rng.chisquare(np.maximum(n - 1, 1)) * (n > 1)
    stat.reward_sums = n * R + sd * np.sqrt(n) * u
    stat.reward_sq_sums = n * R ** 2 + 2 * R * sd * np.sqrt(n) * u + sd ** 2 * (u ** 2 + chi)
    seen = n > 0
    stat.max_abs_reward = float((np.abs(R) + sd * np.sqrt(2 * np.log(np.maximum(n, 2))))[
        seen].max()) if seen.any() else 0.0
