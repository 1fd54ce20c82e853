"""Training batches: synthetic MDPs, contexts, and Boltzmann targets over Q*.

For a network that reads the bonus, each example also draws an R-max bonus beta (none,
optimistic or pessimistic): the target is then the Boltzmann policy of the true MDP's optimal
Q with ``features.bonus_rewards`` added, and beta is one of the network's inputs. So one
network learns the posterior policy (beta = 0), directed exploration towards untried pairs
(beta > 0: what Boltzmann sampling of the posterior policy cannot give), and pessimism about
them (beta < 0, for offline data); beta is chosen at inference. For a network that reads the
steps left, some finite-horizon examples ask for the policy of a later step.

``sample_batch(rng, config, features, batch_size) -> Batch``. The trainer never branches on
which prior an MDP came from: priors compose by weight (``rlbench_icl.synthetic``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import dynprog
from ..mdp import TabularMDP
from ..synthetic import (
    BANDIT_PRIOR,
    CHAIN_PRIOR,
    PAPER_PRIOR,
    WIDE_PRIOR,
    MDPPrior,
    sample_mdp_mixture,
)
from .context import ContextConfig, sample_context
from .features import Batch, Context, FeatureConfig, collate, featurize
from .planning import bonus_rewards, objective_horizon, stationary_discount

PRIORS = {"paper": PAPER_PRIOR, "wide": WIDE_PRIOR, "chains": CHAIN_PRIOR,
          "bandits": BANDIT_PRIOR}


@dataclass(frozen=True)
class PriorConfig:
    """What the model is trained on (what it reads is ``FeatureConfig``'s).

    Attributes:
        priors: names in ``PRIORS``. weights: their mixture weights.
        context: how contexts are drawn.
        temperature: target = softmax(Q* / (temperature * unit)) (the paper's 0.2).
        target_unit: ``reward``: the unit is the MDP's max|r| (the paper's); ``state``: per
            state, the spread of Q* over its actions, at most max|r|. Where a one-off goal
            lies far away, actions differ by a few hundredths of max|r| and the paper's
            target is nearly uniform: a network trained on it barely learns which action is
            best, and its greedy policy is noise. ``state`` keeps every state's target as
            sharp as where actions differ by max|r| or more.
        max_successors: cap on successors per pair in training batches.
        bonus_weights: probabilities of (no bonus, optimism, pessimism) per example.
        bonus_range: (low, high) of the log-uniform magnitude of beta.
        steps_left: probability that a finite-horizon example asks for the policy of a later
            step instead of the first: steps left h log-uniform in 1..H-1, target from Q*
            with h steps to go. The endgame, where a per-step policy differs most from the
            first step's, is drawn most.
    """

    priors: tuple[str, ...] = ("paper", "wide")
    weights: tuple[float, ...] = (0.3, 0.7)
    context: ContextConfig = field(default_factory=ContextConfig)
    temperature: float = 0.2
    target_unit: str = "reward"
    max_successors: int = 16
    bonus_weights: tuple[float, float, float] = (1.0, 0.0, 0.0)
    bonus_range: tuple[float, float] = (0.003, 1.0)
    steps_left: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.steps_left <= 1.0:
            raise ValueError(f"steps_left is a probability, got {self.steps_left}")
        if self.target_unit not in ("reward", "state"):
            raise ValueError(f"target_unit must be 'reward' or 'state', got {self.target_unit!r}")

    def mdp_priors(self) -> list[MDPPrior]:
        return [PRIORS[name] for name in self.priors]


def optimal_q(mdp: TabularMDP, reward_bonus: np.ndarray | None = None,
              tie_break: float = 0.0, steps_left: int | None = None) -> np.ndarray:
    """Q* (S, A) under the MDP's objective, with ``reward_bonus`` (S, A) added to the
    expected rewards if given. For finite horizons: with ``steps_left`` steps to go (default
    H: the first step), discounted by ``features.stationary_discount(H, gamma, tie_break)``."""
    R = mdp.R if reward_bonus is None else mdp.R + reward_bonus
    if mdp.objective == "discounted":
        return dynprog.discounted_optimal_values(mdp.P, R, mdp.discount)[0]
    H = mdp.horizon
    gamma = stationary_discount(H, mdp.discount, tie_break)
    return dynprog.backward_induction(mdp.P, R, H, gamma)[0][H - (steps_left or H)]


def sample_bonus(rng: np.random.Generator, config: PriorConfig) -> float:
    """beta: 0, or +/- a log-uniform magnitude, by ``config.bonus_weights``. Draws nothing
    when only 0 is possible, so a prior without a bonus draws the same MDPs."""
    if config.bonus_weights[1] == config.bonus_weights[2] == 0:
        return 0.0
    kind = rng.choice(3, p=np.asarray(config.bonus_weights) / sum(config.bonus_weights))
    if kind == 0:
        return 0.0
    magnitude = float(np.exp(rng.uniform(*np.log(config.bonus_range))))
    return magnitude if kind == 1 else -magnitude


def sample_steps_left(rng: np.random.Generator, mdp: TabularMDP, config: PriorConfig
                      ) -> int | None:
    """Steps left for the example's target: None (all H, the first step) or, with
    probability ``config.steps_left`` on finite horizons H > 1, log-uniform in 1..H-1. Draws
    nothing when that probability is 0, so a prior without it draws the same MDPs."""
    if config.steps_left == 0.0:
        return None
    draw, u = rng.random(), rng.random()
    if mdp.objective == "discounted" or mdp.horizon < 2 or draw >= config.steps_left:
        return None
    return min(int(np.exp(u * np.log(mdp.horizon))), mdp.horizon - 1)


def target_policy(q_star: np.ndarray, mdp: TabularMDP, temperature: float,
                  unit: str = "reward") -> np.ndarray:
    """Boltzmann policy over Q*, in units of the MDP's largest |reward|, or per state of the
    spread of Q* over its actions if smaller (``unit = "state"``, ``PriorConfig``)."""
    scale = np.full((len(q_star), 1), mdp.reward_bound() or 1.0)
    if unit == "state":  # floored: states whose actions are all equal keep a uniform target
        spread = np.ptp(q_star, axis=1, keepdims=True)
        scale = np.clip(spread, 1e-9 * scale, scale)
    elif unit != "reward":  # a typo must not fall back to the paper's unit silently
        raise ValueError(f"unit must be 'reward' or 'state', got {unit!r}")
    logits = (q_star - q_star.max(axis=1, keepdims=True)) / (temperature * scale)
    probs = np.exp(logits)
    return probs / probs.sum(axis=1, keepdims=True)


def sample_example(rng: np.random.Generator, config: PriorConfig, features: FeatureConfig
                   ) -> tuple[TabularMDP, Context, np.ndarray, np.ndarray]:
    """``(mdp, context, target (S, A), loss_mask (S,))`` for one synthetic MDP, featurized
    as ``features`` says (which draws no random numbers)."""
    mdp = sample_mdp_mixture(rng, config.mdp_priors(), config.weights)
    q_star = optimal_q(mdp, tie_break=features.tie_break)  # discounted as the plans are
    stat = sample_context(rng, mdp, q_star, config.context)
    bonus = sample_bonus(rng, config)
    steps_left = sample_steps_left(rng, mdp, config)
    reward_bonus = None
    if bonus != 0.0:
        reward_bonus = bonus_rewards(stat, bonus, objective_horizon(mdp))
        reward_bonus[mdp.terminal] = 0.0  # terminal states stay absorbing with reward 0
    if reward_bonus is not None or steps_left is not None:
        q_star = optimal_q(mdp, reward_bonus, features.tie_break, steps_left)
    context = featurize(stat, mdp, features, bonus=bonus, steps_left=steps_left,
                        max_successors=config.max_successors)
    target = target_policy(q_star, mdp, config.temperature, config.target_unit)
    return mdp, context, target, ~mdp.terminal


def sample_batch(rng: np.random.Generator, config: PriorConfig, features: FeatureConfig,
                 batch_size: int) -> Batch:
    examples = [sample_example(rng, config, features) for _ in range(batch_size)]
    return collate([e[1] for e in examples], [e[2] for e in examples],
                   [e[3] for e in examples])
