"""Synthetic MDP priors: the data a foundation model may pretrain on and baselines may be tuned on.

Nothing here is built from a benchmark task. ``PAPER_PRIOR`` reproduces the prior of Zighem &
Vie (2026, arXiv 2606.18812); ``WIDE_PRIOR`` widens it towards the structure a
held-out suite has (more states and actions, absorbing goals and traps, step costs, sparse
distant rewards, finite horizons) without looking at any task. Priors compose by weight with
``sample_mdp_mixture``.

Sampling, in the paper's words turned into code: draw S, A; place states in a latent geometry
(a chain, a 2-D or 3-D point cloud, or no geometry); each (s, a) picks O successors among the
~2O states nearest to s, with Dirichlet(alpha) probabilities; each (s, a) keeps a reward with
probability p_keep, of random sign and Beta(2, 5) size.

Two structured priors teach exploration, which the garnets above hardly demand (issue 20):
``CHAIN_PRIOR``, chains of varied length where a small reward sits at the start and a large one
at the far end behind a current (RiverSwim's shape with random lengths, currents and
rewards), and ``BANDIT_PRIOR``, bandits whose best arm leads by a small gap under Bernoulli or
Gaussian reward noise (the garnets' rewards are deterministic). Their ranges were set from
the issue's words (varied lengths, close gaps), before any training on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .mdp import TabularMDP, make_absorbing

GEOMETRIES = ("chain", "plane", "space", "random")
KINDS = ("garnet", "chain", "bandit")


@dataclass(frozen=True)
class MDPPrior:
    """A distribution over tabular MDPs.

    Attributes:
        name: shown in logs and model cards.
        num_states: (low, high) of a log-uniform S, rounded.
        num_actions: (low, high) of a uniform integer A.
        max_out_degree: successors per pair O, with P(o) proportional to 1/o on 1..max.
        alpha: (low, high) of the log-uniform Dirichlet concentration, one per MDP.
        keep_beta: Beta parameters of p_keep, the probability that a pair has a reward.
        size_beta: Beta parameters of a reward's size.
        terminal_prob: probability that an MDP has absorbing terminal states (goals and traps,
            paid on entering) — 0 in the paper's prior.
        step_cost_prob: probability that every step costs a constant (0 in the paper's prior).
        sparse_goal_prob: probability that the only positive reward is entering a goal far
            from the start (0 in the paper's prior).
        horizons: (low, high) of a log-uniform episode length H.
        discounts: discounts to choose from; 1.0 means the finite-horizon objective, < 1 the
            infinite-horizon discounted objective.
        kind: ``garnet``, the sampler above; ``chain``: a chain of ``num_states`` states
            (``_sample_chain``); ``bandit``: one state, ``num_actions`` arms
            (``_sample_bandit``).
        gap: (low, high) of a bandit's log-uniform gap between its best and second arm.
    """

    name: str
    num_states: tuple[int, int] = (2, 32)
    num_actions: tuple[int, int] = (2, 4)
    max_out_degree: int = 6
    alpha: tuple[float, float] = (0.05, 5.0)
    keep_beta: tuple[float, float] = (2.0, 4.0)
    size_beta: tuple[float, float] = (2.0, 5.0)
    terminal_prob: float = 0.0
    step_cost_prob: float = 0.0
    sparse_goal_prob: float = 0.0
    horizons: tuple[int, int] = (50, 50)
    discounts: tuple[float, ...] = (0.95,)
    kind: str = "garnet"
    gap: tuple[float, float] = (0.01, 0.3)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"prior {self.name}: kind must be one of {KINDS}, got {self.kind!r}")


PAPER_PRIOR = MDPPrior(name="paper")
WIDE_PRIOR = MDPPrior(name="wide", num_states=(2, 64), num_actions=(2, 6), terminal_prob=0.5,
                      step_cost_prob=0.3, sparse_goal_prob=0.25, horizons=(5, 200),
                      discounts=(1.0, 1.0, 0.9, 0.95, 0.99))
CHAIN_PRIOR = MDPPrior(name="chains", kind="chain", num_states=(3, 24), num_actions=(2, 2),
                       horizons=(10, 200), discounts=(1.0, 1.0, 0.95, 0.99))
BANDIT_PRIOR = MDPPrior(name="bandits", kind="bandit", num_states=(1, 1), num_actions=(2, 12),
                        horizons=(1, 20), discounts=(1.0,), gap=(0.01, 0.3))


def sample_mdp(rng: np.random.Generator, prior: MDPPrior) -> TabularMDP:
    """One MDP from ``prior``."""
    if prior.kind == "chain":
        return _sample_chain(rng, prior)
    if prior.kind == "bandit":
        return _sample_bandit(rng, prior)
    S = int(np.clip(np.round(_log_uniform(rng, *prior.num_states)), *prior.num_states))
    A = int(rng.integers(prior.num_actions[0], prior.num_actions[1] + 1))
    points = _geometry(rng, S)
    P = _transitions(rng, points, S, A, prior)
    start = int(rng.integers(S))
    R_next = _rewards(rng, P, prior)
    terminal = np.zeros(S, dtype=bool)
    if S > 2 and rng.random() < prior.terminal_prob:
        terminal, R_next = _terminals(rng, points, start, R_next, prior)
    if rng.random() < prior.sparse_goal_prob and S > 2:
        terminal, R_next = _sparse_goal(rng, points, start, terminal, R_next)
    if rng.random() < prior.step_cost_prob:
        R_next = R_next - rng.uniform(0.01, 0.1)
    P, _ = make_absorbing(P, np.zeros((S, A)), terminal)
    R_next[terminal] = 0.0
    R = np.einsum("sat,sat->sa", P, R_next)
    horizon = int(np.round(_log_uniform(rng, *prior.horizons)))
    discount = float(rng.choice(prior.discounts))
    return TabularMDP(P=P, R=R, mu0=np.eye(S)[start], horizon=horizon, discount=discount,
                      terminal=terminal, R_next=R_next,
                      objective="finite" if discount == 1.0 else "discounted")


def sample_mdp_mixture(rng: np.random.Generator, priors: Sequence[MDPPrior],
                       weights: Sequence[float]) -> TabularMDP:
    """One MDP from a weighted mixture of priors."""
    weights = np.asarray(weights, dtype=float)
    return sample_mdp(rng, priors[rng.choice(len(priors), p=weights / weights.sum())])


def _log_uniform(rng, low, high) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _geometry(rng, S: int) -> np.ndarray | None:
    kind = GEOMETRIES[rng.integers(len(GEOMETRIES))]
    if kind == "random":
        return None
    return rng.random((S, {"chain": 1, "plane": 2, "space": 3}[kind]))


def _transitions(rng, points, S: int, A: int, prior: MDPPrior) -> np.ndarray:
    """P (S, A, S): per pair, O successors among the ~2O states nearest to s (including s)."""
    degrees = np.arange(1, prior.max_out_degree + 1)
    degree_probs = (1.0 / degrees) / (1.0 / degrees).sum()
    alpha = _log_uniform(rng, *prior.alpha)
    order = _neighbour_order(rng, points, S)
    P = np.zeros((S, A, S))
    for s in range(S):
        for a in range(A):
            degree = min(int(rng.choice(degrees, p=degree_probs)), S)
            pool = order[s, :min(S, 2 * degree)]
            successors = rng.choice(pool, size=degree, replace=False)
            P[s, a, successors] = rng.dirichlet(np.full(degree, alpha))
    # Dirichlet draws with tiny alpha can underflow to an all-zero row: fall back to a point mass.
    dead = P.sum(axis=2) == 0
    P[dead] = np.eye(S)[np.nonzero(dead)[0]]
    return P / P.sum(axis=2, keepdims=True)


def _neighbour_order(rng, points, S: int) -> np.ndarray:
    """(S, S): for each s, all states from nearest to farthest (s first)."""
    if points is None:  # no geometry: a random order, s itself first
        order = np.array([rng.permutation(S) for _ in range(S)])
        for s in range(S):
            order[s] = np.concatenate([[s], order[s][order[s] != s]])
        return order
    dist = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    dist[np.arange(S), np.arange(S)] = -1.0
    return np.argsort(dist, axis=1, kind="stable")


def _rewards(rng, P: np.ndarray, prior: MDPPrior) -> np.ndarray:
    """R_next (S, A, S): the paper's per-pair rewards, paid whatever the successor."""
    S, A = P.shape[:2]
    keep = rng.random((S, A)) < rng.beta(*prior.keep_beta)
    sign = np.where(rng.random((S, A)) < rng.random(), 1.0, -1.0)
    reward = keep * sign * rng.beta(*prior.size_beta, size=(S, A))
    return np.broadcast_to(reward[..., None], (S, A, S)).copy()


def _far_states(rng, points, start: int, S: int, count: int) -> np.ndarray:
    """``count`` states other than ``start``, preferring those far from it."""
    if points is None:
        candidates = np.array([s for s in range(S) if s != start])
        return rng.choice(candidates, size=count, replace=False)
    dist = np.linalg.norm(points - points[start], axis=1)
    far = np.argsort(-dist, kind="stable")[: max(count, S // 3)]
    far = far[far != start]
    return rng.choice(far, size=min(count, len(far)), replace=False)


def _terminals(rng, points, start, R_next, prior):
    """Absorbing goals (positive on entering) and traps (negative on entering)."""
    S = R_next.shape[0]
    count = int(rng.integers(1, max(2, S // 8) + 1))
    chosen = _far_states(rng, points, start, S, count)
    terminal = np.zeros(S, dtype=bool)
    terminal[chosen] = True
    for s in chosen:
        size = rng.beta(*prior.size_beta) * rng.uniform(1.0, 5.0)
        R_next[:, :, s] += size if rng.random() < 0.5 else -size
    return terminal, R_next


def _sparse_goal(rng, points, start, terminal, R_next):
    """Only entering one far goal pays (1); terminals drawn before stay, paying nothing."""
    goal = _far_states(rng, points, start, len(terminal), 1)[0]
    terminal = terminal.copy()
    terminal[goal] = True
    R_next = np.zeros_like(R_next)
    R_next[:, :, goal] = 1.0
    return terminal, R_next


def _sample_chain(rng, prior: MDPPrior) -> TabularMDP:
    """A chain 0..L-1 from state 0. In each state one action (which one is drawn per state)
    drifts back: to s - 1 (1 - slip) or stays (slip). The other swims on against a current:
    on to s + 1 with probability p_on, back with p_back, else stays; at the far end it stays
    or goes back. The drifting action pays a small reward in state 0 (a fraction of 1,
    log-uniform in [0.001, 0.1]); swimming on at the far end pays 1 (deterministic)."""
    L = int(np.clip(np.round(_log_uniform(rng, *prior.num_states)), *prior.num_states))
    p_on, slip = rng.uniform(0.2, 0.9), rng.uniform(0.0, 0.2)
    p_back = rng.uniform(0.0, 0.3) * (1.0 - p_on)
    swim = rng.integers(2, size=L)  # the action that swims on, per state
    P = np.zeros((L, 2, L))
    for s in range(L):
        back, on = max(s - 1, 0), min(s + 1, L - 1)
        P[s, 1 - swim[s], back] += 1.0 - slip
        P[s, 1 - swim[s], s] += slip
        P[s, swim[s], on] += p_on if s < L - 1 else 0.0
        P[s, swim[s], back] += p_back
        P[s, swim[s], s] += 1.0 - P[s, swim[s]].sum()
    R = np.zeros((L, 2))
    R[0, 1 - swim[0]] = _log_uniform(rng, 0.001, 0.1)
    R[L - 1, swim[L - 1]] = 1.0
    horizon = int(np.round(_log_uniform(rng, *prior.horizons)))
    discount = float(rng.choice(prior.discounts))
    return TabularMDP(P=P, R=R, mu0=np.eye(L)[0], horizon=horizon, discount=discount,
                      objective="finite" if discount == 1.0 else "discounted")


def _sample_bandit(rng, prior: MDPPrior) -> TabularMDP:
    """K arms (one state); the best mean is uniform in [0.1, 0.9], the second trails it by a
    log-uniform gap, the others by one to four gaps (means clipped to [0, 1]). Rewards are
    Bernoulli (7 in 10) or Gaussian with a log-uniform std in [0.1, 1]; H log-uniform."""
    K = int(rng.integers(prior.num_actions[0], prior.num_actions[1] + 1))
    best, gap = rng.uniform(0.1, 0.9), _log_uniform(rng, *prior.gap)
    means = best - gap * rng.uniform(1.0, 4.0, size=K)
    first, second = rng.permutation(K)[:2]
    means[first], means[second] = best, best - gap
    means = np.clip(means, 0.0, 1.0)
    horizon = int(np.round(_log_uniform(rng, *prior.horizons)))
    noise = {"reward_noise": "bernoulli"} if rng.random() < 0.7 else {
        "reward_noise": "gaussian", "reward_std": _log_uniform(rng, 0.1, 1.0)}
    return TabularMDP(P=np.ones((1, K, 1)), R=means[None, :], mu0=np.ones(1), horizon=horizon,
                      discount=1.0, **noise)
