"""From an experience statistic to the network's input, the same at training and at use.

Per pair (s, a): ``log(1 + n)``, the mean reward divided by the reward scale, and a visited
flag; its successors are the states it has been seen to reach, with ``log P_hat`` (an
unvisited pair points to itself with probability 1: the visited flag tells the network the
edge is a placeholder). Per state: terminal seen, ``log(1 + visits)``. Per MDP: the effective
horizon, the amount of data, the R-max bonus beta the policy is asked to plan with (read as
sign(beta) sqrt|beta|) and the steps left to go. A network reads the last two only if its
``FeatureConfig`` says so.

The reward scale is the largest |reward| observed in the context (1 before any), at training
and at use alike; at use it can be floored at a known bound on |reward| (``scale_floor``),
which the network was not trained with: there the largest reward seen may read below 1.

With ``FeatureConfig.plans`` each pair also gets the advantages of two exact plans on the
empirical model (``planned_advantages``): an optimistic one, where an untried pair pays the
reward scale every remaining step (R-max), and a pessimistic one, where it costs it. The
network then starts from what exact planning knows instead of having to learn value
iteration over long horizons in its rounds. The advantages are read on a log scale
(``log_scaled``): in units of ``reward scale * horizon`` the advantage of a one-off goal over
a long horizon is 1e-4 and below, which a linear reading cannot tell from 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..experience import ExperienceStatistic
from .planning import (
    Objective,
    log_scaled,
    objective_horizon,
    plans_by_step,
    reward_scale,
)

NUM_PAIR_FEATURES = 3
NUM_PLAN_FEATURES = 2
NUM_STATE_FEATURES = 2
NUM_GLOBAL_FEATURES = 4  # horizon, amount of data, bonus, steps left


@dataclass(frozen=True)
class FeatureConfig:
    """What a network reads beside the statistic. One value is shared by ``featurize`` (the
    contexts), the prior (targets are discounted as the plans are) and ``ModelConfig`` (the
    network's input widths), so the three always agree.

    Attributes:
        plans: per pair, the log-scaled advantages of the R-max and the pessimistic plan on
            the empirical model (``planned_advantages``).
        bonus: read the R-max bonus beta (global feature 2); ``bonus_rewards``.
        steps_left: read the steps left to go (global feature 3): for finite horizons the
            network then gives the policy of any step, not one policy for every step.
        tie_break: c in the discount ``1 - c/H`` of finite-horizon plans and targets
            (``stationary_discount``); 0 leaves them undiscounted.
    """

    plans: bool = False
    bonus: bool = False
    steps_left: bool = False
    tie_break: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.tie_break < 1.0:
            raise ValueError(f"tie_break must be in [0, 1), got {self.tie_break}")

    @property
    def num_pair_features(self) -> int:
        return NUM_PAIR_FEATURES + (NUM_PLAN_FEATURES if self.plans else 0)

    def global_columns(self) -> list[int]:
        """The global features this network reads: horizon and amount of data, then the
        bonus and the steps left if it reads them."""
        return [0, 1] + [2] * self.bonus + [3] * self.steps_left


@dataclass
class Context:
    """One MDP's network input (numpy). Shapes: pair_features (S, A, 3 or 5), state_features
    (S, 2), global_features (4,), successors (S, A, M) int64, successor_log_probs (S, A, M)
    with -inf on padding."""

    pair_features: np.ndarray
    state_features: np.ndarray
    global_features: np.ndarray
    successors: np.ndarray
    successor_log_probs: np.ndarray
    reward_scale: float


@dataclass
class Batch:
    """Padded contexts (torch). ``targets`` (B, S, A) and ``loss_mask`` (B, S) for training."""

    pair_features: torch.Tensor
    state_features: torch.Tensor
    global_features: torch.Tensor
    successors: torch.Tensor
    successor_log_probs: torch.Tensor
    action_mask: torch.Tensor
    state_mask: torch.Tensor
    targets: torch.Tensor | None = None
    loss_mask: torch.Tensor | None = None


def featurize(stat: ExperienceStatistic, task: Objective, features: FeatureConfig, *,
              bonus: float = 0.0, scale_floor: float = 0.0, steps_left: int | None = None,
              max_successors: int | None = None) -> Context:
    """The network input for a statistic (see the module docstring).

    Args:
        task: the objective (H, gamma, finite or discounted).
        features: what the network reads.
        bonus: the R-max bonus beta the policy is asked to plan with.
        scale_floor: read rewards in units of at least this (a known bound on |reward|), so
            that small rewards seen first look small, and an untried pair in the R-max plan
            pays at least it.
        steps_left: for finite horizons, ask for the policy with that many steps to go
            (default all H: the first step, and the stationary policy).
        max_successors: keep at most this many successors per pair, most visited first.
    """
    return featurize_steps(stat, task, features, [steps_left], bonus=bonus,
                           scale_floor=scale_floor, max_successors=max_successors)[0]


def featurize_steps(stat: ExperienceStatistic, task: Objective, features: FeatureConfig,
                    steps: Sequence[int | None], *, bonus: float = 0.0,
                    scale_floor: float = 0.0, max_successors: int | None = None
                    ) -> list[Context]:
    """``featurize`` for several ``steps_left`` at once: the statistic is read and planned
    once; the contexts differ only in their plans and steps-left feature."""
    n = stat.visits
    scale = reward_scale(stat, scale_floor)
    pair = np.stack([np.log1p(n), stat.reward_sums / np.maximum(n, 1.0) / scale,
                     (n > 0).astype(float)], axis=-1)
    lefts = [_steps_left(task, h) for h in steps]
    plans = None
    if features.plans:  # plan the rows asked for only: online asks for one
        rows = [0 if task.objective == "discounted" else task.horizon - int(left)
                for left in lefts]
        plans = plans_by_step(stat, task, features.tie_break, scale_floor, rows)
    state = np.stack([stat.terminal_seen.astype(float), np.log1p(n.sum(axis=1))],
                     axis=-1).astype(np.float32)
    successors, log_probs = _successor_lists(stat, n, max_successors)
    log_probs = log_probs.astype(np.float32)
    contexts = []
    for i, left in enumerate(lefts):
        x = pair
        if plans is not None:
            x = np.concatenate([pair, log_scaled(plans[i])], axis=-1)
        glob = np.array([np.log(objective_horizon(task)) / 5.0, np.log1p(n.sum()) / 10.0,
                         _bonus_feature(bonus), np.log(left) / 5.0])
        contexts.append(Context(x.astype(np.float32), state, glob.astype(np.float32),
                                successors, log_probs, scale))
    return contexts


def _steps_left(task: Objective, steps_left: int | None) -> float:
    """The steps-left value read: the effective horizon for ``discounted`` objectives and by
    default, else ``steps_left`` (in 1..H)."""
    if task.objective == "discounted" or steps_left is None:
        return objective_horizon(task)
    if not 1 <= steps_left <= task.horizon:
        raise ValueError(f"steps_left must be in 1..{task.horizon}, got {steps_left}")
    return float(steps_left)


def with_bonus(context: Context, bonus: float) -> Context:
    """The same context asking for another bonus (no re-featurizing, no re-planning)."""
    glob = context.global_features.copy()
    glob[2] = _bonus_feature(bonus)
    return dataclasses.replace(context, global_features=glob)


def _bonus_feature(bonus: float) -> float:
    return float(np.sign(bonus) * np.sqrt(abs(bonus)))


def _successor_lists(stat: ExperienceStatistic, n: np.ndarray, cap: int | None):
    """(S, A, M) successors of every pair and their log P_hat, from the observed keys in
    time and memory O(#keys log #keys + S * A * M): the M (at most ``cap``) most visited
    first, ties to the lower state; a pair with fewer is padded with the lowest states it
    never reached, at log-probability -inf; an unvisited pair points to itself at 0. These
    are the first M columns of a stable ``argsort`` of its (S,) counts, largest first."""
    S, A = stat.num_states, stat.num_actions
    rows, cols, counts = stat.sorted_counts()
    per_pair = np.bincount(rows, minlength=S * A)
    M = max(1, int(per_pair.max(initial=0)))
    if cap is not None:
        M = min(M, cap)
    order = np.lexsort((cols, -counts, rows))  # by pair, most visited first, then by state
    rows, cols, counts = rows[order], cols[order], counts[order]
    rank = np.arange(len(rows)) - (np.cumsum(per_pair) - per_pair)[rows]
    top = rank < M
    successors = _padding(rows, cols, np.minimum(per_pair, M), M)
    successors[rows[top], rank[top]] = cols[top]
    kept = np.zeros((S * A, M))
    kept[rows[top], rank[top]] = counts[top]
    successors, kept = successors.reshape(S, A, M), kept.reshape(S, A, M)
    total = kept.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_probs = np.where(kept > 0, np.log(kept / np.maximum(total, 1.0)), -np.inf)
    unvisited = n == 0
    successors[unvisited, 0] = np.nonzero(unvisited)[0]
    log_probs[unvisited, 0] = 0.0
    return successors, log_probs


def _padding(rows: np.ndarray, cols: np.ndarray, num_kept: np.ndarray, M: int) -> np.ndarray:
    """(S * A, M) int64: in columns ``num_kept[r]`` onwards of row r, the lowest states that
    are not successors of pair r, ascending (all among 0..M-1, as r has at most
    ``num_kept[r]`` of them there); the other columns are left for the caller."""
    taken = np.zeros((len(num_kept), M), dtype=bool)
    low = cols < M
    taken[rows[low], cols[low]] = True
    free = np.argsort(taken, axis=1, kind="stable")  # free states first, ascending
    slot = np.arange(M) - num_kept[:, None]
    return np.take_along_axis(free, np.maximum(slot, 0), axis=1)


def collate(contexts: list[Context], targets: list[np.ndarray] | None = None,
            loss_masks: list[np.ndarray] | None = None) -> Batch:
    """Pad contexts of different S, A and M into one batch."""
    B = len(contexts)
    S = max(c.pair_features.shape[0] for c in contexts)
    A = max(c.pair_features.shape[1] for c in contexts)
    M = max(c.successors.shape[2] for c in contexts)
    widths = {c.pair_features.shape[-1] for c in contexts}
    if len(widths) != 1:
        raise ValueError(f"contexts with and without plans in one batch: {widths}")
    pair = np.zeros((B, S, A, widths.pop()), np.float32)
    state = np.zeros((B, S, NUM_STATE_FEATURES), np.float32)
    succ = np.zeros((B, S, A, M), np.int64)
    logp = np.full((B, S, A, M), -np.inf, np.float32)
    logp[..., 0] = 0.0  # padded pairs attend to state 0 with weight 1 (never NaN)
    action_mask = np.zeros((B, A), bool)
    state_mask = np.zeros((B, S), bool)
    for i, c in enumerate(contexts):
        s, a, m = c.successors.shape
        pair[i, :s, :a] = c.pair_features
        state[i, :s] = c.state_features
        succ[i, :s, :a, :m] = c.successors
        logp[i, :s, :a, :m] = c.successor_log_probs
        action_mask[i, :a] = True
        state_mask[i, :s] = True
    batch = Batch(torch.from_numpy(pair), torch.from_numpy(state),
                  torch.from_numpy(np.stack([c.global_features for c in contexts])),
                  torch.from_numpy(succ), torch.from_numpy(logp),
                  torch.from_numpy(action_mask), torch.from_numpy(state_mask))
    if targets is not None:
        padded = np.zeros((B, S, A), np.float32)
        mask = np.zeros((B, S), bool)
        for i, (t, lm) in enumerate(zip(targets, loss_masks, strict=True)):
            padded[i, :t.shape[0], :t.shape[1]] = t
            mask[i, :t.shape[0]] = lm
        batch.targets, batch.loss_mask = torch.from_numpy(padded), torch.from_numpy(mask)
    return batch
