"""The in-context policy network: a graph attention network over the experience statistic.

Every (s, a) pair is a node that attends over its observed successor states s', with the
empirical transition probability as an additive attention bias (Zighem & Vie 2026): with
q.k = 0 the attention is exactly the Bellman expectation under P_hat. One propagation round,
weight-tied and applied ``num_rounds`` times (a learned value iteration; more rounds can be run
at inference), with the pair's input embedding re-injected every round. A policy head reads
[h_s, h_sa, e_sa] into one logit per action. Optionally (``plan_skip``) the logits also get
the exact plans' advantages (a network input) times gains read from the MDP's global
features: the rounds then learn a correction to exact planning instead of having to rebuild
its scale (advantages are read normalised by the horizon, targets are not).

Permutation-equivariant in states and in actions; no positional features; any S and A (padding
and masking exist only inside a batch). Attention is sparse: a pair attends over the M
successors it has actually observed, not over all S states, so S = 500 is affordable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .features import (
    NUM_PAIR_FEATURES,
    NUM_STATE_FEATURES,
    NUM_VALUE_FEATURES,
    Batch,
)


@dataclass(frozen=True)
class ModelConfig:
    """Network shape.

    Attributes:
        width: embedding size d.
        num_heads: attention heads (d must be divisible by it).
        num_rounds: propagation rounds in training (inference may use more).
        mlp_ratio: hidden size of the round's MLPs, in multiples of d.
        dropout: dropout inside the MLPs.
        bonus_input: read the confidence bonus (the third global feature); networks trained
            without a bonus ignore it.
        value_features: read the advantages of two exact plans on the empirical model as
            pair inputs (``features.planned_advantages``); contexts must be featurized with
            ``value_features`` to match.
        stationary_plans: for finite horizons, plan with ``features.stationary_discount``
            (contexts must be featurized with ``stationary_plans`` to match).
        log_plans: read those advantages on a log scale (``features.log_scaled``).
        plan_skip: add those advantages, in reward units (times the effective horizon), to
            the logits with learned per-MDP gains (zero at initialisation); needs
            ``value_features``.
        tie_break: the strength c of the stationary discount 1 - c/H of plans (and of the
            prior's targets): ``features.stationary_discount``.
        steps_left_input: read the steps left to go (the fourth global feature): the network
            then gives, for finite horizons, the policy of any step (a non-stationary
            policy, one forward pass per step); without it, one policy serves every step.
    """

    width: int = 64
    num_heads: int = 4
    num_rounds: int = 10
    mlp_ratio: int = 1
    dropout: float = 0.0
    bonus_input: bool = False
    value_features: bool = False
    stationary_plans: bool = False
    log_plans: bool = False
    plan_skip: bool = False
    tie_break: float = 1.0
    steps_left_input: bool = False

    def inputs(self) -> dict:
        """``features.featurize``'s options that make contexts this network's input."""
        return {"value_features": self.value_features,
                "stationary_plans": self.stationary_plans, "log_plans": self.log_plans,
                "tie_break": self.tie_break}

    def global_columns(self) -> list[int]:
        """The global features this network reads: horizon and amount of data, then the
        bonus and the steps left if it was built to read them."""
        return [0, 1] + [2] * self.bonus_input + [3] * self.steps_left_input


# The plan skip's gains are 5 x a linear map: at a target temperature of 0.2 (the prior's),
# a gain of 1 copies a plan's advantages into the target's logit units, and AdamW's steps of
# ~lr per weight can reach it within a training run.
PLAN_GAIN_SCALE = 5.0


class MLP(nn.Sequential):
    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float = 0.0):
        super().__init__(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(d_hidden, d_out))


class PropagationRound(nn.Module):
    """Pairs attend over successor states; states pool their pairs."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        d = config.width
        self.num_heads = config.num_heads
        self.query = nn.Linear(d, d)
        self.key_value = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)
        hidden = config.mlp_ratio * d
        self.pair_mlp = MLP(3 * d, hidden, d, config.dropout)
        self.pair_norm = nn.LayerNorm(d)
        self.state_mlp = MLP(2 * d, hidden, d, config.dropout)
        self.state_norm = nn.LayerNorm(d)

    def forward(self, h_s, h_sa, e_sa, batch: Batch):
        B, S, A, M = batch.successors.shape
        d, nh = h_s.shape[-1], self.num_heads
        k, v = self.key_value(h_s).chunk(2, dim=-1)  # (B, S, d) each
        index = batch.successors.reshape(B, S * A * M, 1).expand(-1, -1, d)
        k_m = torch.gather(k, 1, index).view(B, S, A, M, nh, d // nh)
        v_m = torch.gather(v, 1, index).view(B, S, A, M, nh, d // nh)
        q = self.query(h_sa).view(B, S, A, nh, d // nh)
        logits = torch.einsum("bsahd,bsamhd->bsamh", q, k_m) / math.sqrt(d // nh)
        logits = logits + batch.successor_log_probs.unsqueeze(-1)  # (B, S, A, M, nh)
        weights = torch.softmax(logits, dim=3)
        message = torch.einsum("bsamh,bsamhd->bsahd", weights, v_m).reshape(B, S, A, d)
        h_sa = self.pair_norm(h_sa + self.pair_mlp(torch.cat([h_sa, self.out(message), e_sa],
                                                             dim=-1)))
        pooled = _mean_over_actions(h_sa, batch.action_mask)  # (B, S, d)
        h_s = self.state_norm(h_s + self.state_mlp(torch.cat([h_s, pooled], dim=-1)))
        return h_s, h_sa


class PolicyNetwork(nn.Module):
    """Statistic in, one logit per (s, a) out."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        d = config.width
        if d % config.num_heads:
            raise ValueError(f"width {d} is not divisible by num_heads {config.num_heads}")
        self.config = config
        self.global_columns = config.global_columns()
        self.num_global = len(self.global_columns)
        self.num_pair = NUM_PAIR_FEATURES + (NUM_VALUE_FEATURES if config.value_features else 0)
        self.pair_encoder = MLP(self.num_pair + self.num_global, d, d)
        self.state_encoder = nn.Linear(NUM_STATE_FEATURES, d)
        self.round = PropagationRound(config)
        self.head = MLP(3 * d, d, 1, config.dropout)
        if config.plan_skip:
            if not config.value_features:
                raise ValueError("plan_skip needs value_features (the plans it adds)")
            self.plan_gain = nn.Linear(self.num_global, NUM_VALUE_FEATURES)
            nn.init.zeros_(self.plan_gain.weight)
            nn.init.zeros_(self.plan_gain.bias)

    def forward(self, batch: Batch, num_rounds: int | None = None):
        """Returns ``(logits (B, S, A), loss or None)``; invalid actions get -inf logits.

        The loss (with ``batch.targets``) is the cross-entropy to the target policy over
        valid actions, averaged over the states ``batch.loss_mask`` selects.
        """
        B, S, A, width = batch.pair_features.shape
        if width != self.num_pair:
            raise ValueError(f"pair features of width {width}, but this network reads "
                             f"{self.num_pair} (featurize with value_features="
                             f"{self.config.value_features})")
        glob = batch.global_features[:, None, None, self.global_columns].expand(B, S, A, -1)
        e_sa = self.pair_encoder(torch.cat([batch.pair_features, glob], dim=-1))  # (B,S,A,d)
        h_s = _mean_over_actions(e_sa, batch.action_mask) + self.state_encoder(
            batch.state_features)  # (B, S, d)
        h_sa = e_sa
        for _ in range(num_rounds or self.config.num_rounds):
            h_s, h_sa = self.round(h_s, h_sa, e_sa, batch)
        readout = torch.cat([h_s.unsqueeze(2).expand(-1, -1, A, -1), h_sa, e_sa], dim=-1)
        logits = self.head(readout).squeeze(-1)  # (B, S, A)
        if self.config.plan_skip:
            logits = logits + self._plan_logits(batch)
        logits = logits.masked_fill(~batch.action_mask[:, None, :], float("-inf"))
        loss = None if batch.targets is None else policy_loss(logits, batch)
        return logits, loss

    def _plan_logits(self, batch: Batch) -> torch.Tensor:
        """(B, S, A): the plans' advantages in reward units, weighted by learned gains."""
        glob = batch.global_features[:, self.global_columns]  # (B, G)
        h_eff = torch.exp(5.0 * glob[:, 0])  # features.featurize reads log(h_eff) / 5
        plans = batch.pair_features[..., NUM_PAIR_FEATURES:] * h_eff[:, None, None, None]
        gains = PLAN_GAIN_SCALE * self.plan_gain(glob)  # (B, 2)
        return (plans * gains[:, None, None, :]).sum(dim=-1)


def policy_loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Cross-entropy to ``batch.targets`` over valid actions, mean over ``batch.loss_mask``."""
    log_probs = F.log_softmax(logits, dim=-1).masked_fill(~batch.action_mask[:, None, :], 0.0)
    per_state = -(batch.targets * log_probs).sum(dim=-1)  # (B, S)
    mask = batch.loss_mask.float()
    return (per_state * mask).sum() / mask.sum().clamp(min=1.0)


def _mean_over_actions(h_sa: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    mask = action_mask[:, None, :, None].float()  # (B, 1, A, 1)
    return (h_sa * mask).sum(dim=2) / mask.sum(dim=2).clamp(min=1.0)
