"""Training batches: synthetic MDPs, contexts, and Boltzmann targets over Q*.

``sample_batch(rng, config, batch_size) -> Batch``. The trainer never branches on which prior
an MDP came from: priors compose by weight (``rlbench_icl.synthetic``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import dynprog
from ..mdp import TabularMDP
from ..synthetic import PAPER_PRIOR, WIDE_PRIOR, MDPPrior, sample_mdp_mixture
from .context import ContextConfig, sample_context
from .features import Batch, Context, collate, featurize

PRIORS = {"paper": PAPER_PRIOR, "wide": WIDE_PRIOR}


@dataclass(frozen=True)
class PriorConfig:
    """What the model is trained on.

    Attributes:
        priors: names in ``PRIORS``. weights: their mixture weights.
        context: how contexts are drawn.
        temperature: target = softmax(Q* / (temperature * max|r|)) (the paper's 0.2).
        max_successors: cap on successors per pair in training batches.
    """

    priors: tuple[str, ...] = ("paper", "wide")
    weights: tuple[float, ...] = (0.3, 0.7)
    context: ContextConfig = field(default_factory=ContextConfig)
    temperature: float = 0.2
    max_successors: int = 16

    def mdp_priors(self) -> list[MDPPrior]:
        return [PRIORS[name] for name in self.priors]


def optimal_q(mdp: TabularMDP) -> np.ndarray:
    """Q* (S, A) of the first step under the MDP's objective."""
    if mdp.objective == "discounted":
        return dynprog.discounted_optimal_values(mdp.P, mdp.R, mdp.discount)[0]
    return dynprog.backward_induction(mdp.P, mdp.R, mdp.horizon, mdp.discount)[0][0]


def target_policy(q_star: np.ndarray, mdp: TabularMDP, temperature: float) -> np.ndarray:
    """Boltzmann policy over Q*, in units of the MDP's largest |reward|."""
    lo, hi = mdp.reward_bounds()
    scale = max(abs(lo), abs(hi)) or 1.0
    logits = (q_star - q_star.max(axis=1, keepdims=True)) / (temperature * scale)
    probs = np.exp(logits)
    return probs / probs.sum(axis=1, keepdims=True)


def sample_example(rng: np.random.Generator, config: PriorConfig
                   ) -> tuple[TabularMDP, Context, np.ndarray, np.ndarray]:
    """``(mdp, context, target (S, A), loss_mask (S,))`` for one synthetic MDP."""
    mdp = sample_mdp_mixture(rng, config.mdp_priors(), config.weights)
    q_star = optimal_q(mdp)
    stat = sample_context(rng, mdp, q_star, config.context)
    context = featurize(stat, mdp.horizon, mdp.discount, mdp.objective, config.max_successors)
    return mdp, context, target_policy(q_star, mdp, config.temperature), ~mdp.terminal


def sample_batch(rng: np.random.Generator, config: PriorConfig, batch_size: int) -> Batch:
    examples = [sample_example(rng, config) for _ in range(batch_size)]
    return collate([e[1] for e in examples], [e[2] for e in examples],
                   [e[3] for e in examples])
