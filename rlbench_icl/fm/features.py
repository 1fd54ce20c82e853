"""From an experience statistic to the network's input, the same at training and at use.

Per pair (s, a): ``log(1 + n)``, the mean reward divided by the reward scale, and a visited
flag; its successors are the states it has been seen to reach, with ``log P_hat`` (an
unvisited pair points to itself with probability 1: the visited flag tells the network the
edge is a placeholder). Per state: terminal seen, ``log(1 + visits)``. Per MDP: the effective
horizon, the amount of data, and the confidence bonus beta the policy is asked to plan with
(``bonus_rewards``: beta > 0 optimism, beta < 0 pessimism, 0 the plain posterior policy;
read as sign(beta) sqrt|beta|), and the steps left to go (finite horizons: the policy asked
for is that of step H - steps left; networks built without ``steps_left_input`` ignore it,
and the policy they give serves every step). The reward scale is the largest |reward|
observed in the context (1 before any), at training and at use alike; at use it can be
floored at a known bound on |reward| (``scale_floor``; gnn-fm 5.1 online: the task's
declared reward range), which the network was not trained with: there the largest reward
seen may read below 1.

Optionally (``value_features``, for networks built with ``ModelConfig.value_features``) each
pair also gets the advantages of two exact plans on the empirical model (``planned_advantages``):
an optimistic one, where an untried pair pays the reward scale every remaining step (R-max),
and a pessimistic one, where it costs it. The network then starts from what exact planning
knows instead of having to learn value iteration over long horizons in its rounds. Read in
units of ``reward scale * horizon``, the advantages of a one-off goal over a long horizon are
tiny (1e-4 and below: the network cannot tell its best action from the others); with
``log_plans`` they are read on a log scale instead (``log_scaled``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from .. import dynprog
from ..experience import ExperienceStatistic

NUM_PAIR_FEATURES = 3
NUM_VALUE_FEATURES = 2
NUM_STATE_FEATURES = 2
NUM_GLOBAL_FEATURES = 4  # horizon, amount of data, bonus, steps left
# log_scaled's unit: advantages of 1e-6 of (reward scale x horizon) and below read as ~0.
LOG_PLAN_UNIT = 1e-6


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


def reward_scale(stat: ExperienceStatistic, floor: float = 0.0) -> float:
    """The unit rewards are read in: the largest |reward| observed, or ``floor`` if larger
    (a known bound on rewards: ``scale_floor`` of ``featurize``), 1 if both are 0."""
    scale = max(stat.max_abs_reward, floor)
    return scale if scale > 0 else 1.0


def effective_horizon(horizon: int, discount: float) -> float:
    return float(horizon) if discount >= 1.0 else min(float(horizon), 1.0 / (1.0 - discount))


def bonus_rewards(stat: ExperienceStatistic, bonus: float, h_eff: float,
                  form: str = "sqrt", scale_floor: float = 0.0) -> np.ndarray:
    """(S, A) per-step reward bonus, 0 at terminal states, in the units the network reads
    rewards in and scaled like UCB-VI's by the effective horizon. ``form``:

    - ``sqrt``: ``bonus * h_eff * reward_scale / sqrt(1 + n(s, a))``, a count-based
      confidence bound on every pair;
    - ``untried``: ``bonus * h_eff * reward_scale`` on pairs never tried, 0 elsewhere (R-max;
      at ``bonus`` = 1 an untried pair is worth a whole horizon of the largest reward seen,
      like UCB-VI's optimistic value for untried pairs).

    ``bonus`` > 0 is optimism, < 0 pessimism. The network is trained to output the optimal
    policy of the true MDP with these rewards added (``rlbench_icl.fm.prior``). The reward
    scale is ``reward_scale(stat, scale_floor)``, as the network reads it."""
    n = stat.transition_counts.sum(axis=2)
    scale = reward_scale(stat, scale_floor)
    if form == "sqrt":
        b = bonus * h_eff * scale / np.sqrt(1.0 + n)
    elif form == "untried":
        b = np.where(n == 0, bonus * h_eff * scale, 0.0)
    else:
        raise ValueError(f"unknown bonus form {form!r}: 'sqrt' or 'untried'")
    b[stat.terminal_seen] = 0.0
    return b


def objective_horizon(horizon: int, discount: float, objective: str) -> float:
    """The horizon the objective looks ahead: 1 / (1 - gamma) for ``discounted`` tasks."""
    if objective == "discounted":
        return 1.0 / (1.0 - discount)
    return effective_horizon(horizon, discount)


def stationary_discount(horizon: int, discount: float, tie_break: float = 1.0) -> float:
    """The discount that makes a finite-horizon plan's first-step Q a good *stationary*
    policy: min(gamma, 1 - tie_break / H). Undiscounted, every action that reaches a one-off
    goal within the remaining H steps ties at the first step, and a stationary policy picking
    among tied actions can circle forever; a discount of 1 - 1/H prefers the quicker one.
    A smaller ``tie_break`` still breaks those ties but distorts a per-step (non-stationary)
    plan less (``benchmarks/stationary_ceiling.py``)."""
    return min(discount, 1.0 - tie_break / horizon)


def planned_advantages(stat: ExperienceStatistic, horizon: int, discount: float,
                       objective: str = "finite", stationary: bool = False,
                       scale_floor: float = 0.0, tie_break: float = 1.0,
                       steps_left: int | None = None) -> np.ndarray:
    """(S, A, 2): ``(Q(s, a) - max_a' Q(s, a')) / (scale * h_eff)`` of the optimal plan on
    the empirical model under the task's objective, where an untried pair pays ``+scale``
    (optimistic plan, column 0: R-max) or ``-scale`` (pessimistic plan, column 1) and leads to
    an absorbing state that pays the same every step. States seen as terminal are absorbing
    with reward 0. For finite horizons, Q with ``steps_left`` steps to go (default: all H, the
    first step), discounted by ``stationary_discount(H, gamma, tie_break)`` if
    ``stationary``. The scale is ``reward_scale(stat, scale_floor)``."""
    by_step = plans_by_step(stat, horizon, discount, objective, stationary, scale_floor,
                            tie_break)
    return by_step[len(by_step) - (steps_left or len(by_step))]


def plans_by_step(stat: ExperienceStatistic, horizon: int, discount: float,
                  objective: str = "finite", stationary: bool = False,
                  scale_floor: float = 0.0, tie_break: float = 1.0) -> np.ndarray:
    """``planned_advantages`` for every step at once: (H, S, A, 2), row t with H - t steps
    to go, from one backward induction ((1, S, A, 2) for ``discounted`` objectives)."""
    counts = stat.transition_counts
    S, A, _ = counts.shape
    n = counts.sum(axis=2)
    scale = reward_scale(stat, scale_floor)
    limbo = S  # the extra absorbing state untried pairs lead to
    P = np.zeros((S + 1, A, S + 1))
    P[:S, :, :S] = counts / np.maximum(n, 1.0)[..., None]
    P[:S, :, limbo] = n == 0
    terminal = np.nonzero(stat.terminal_seen)[0]
    P[terminal] = 0.0
    P[terminal, :, terminal] = 1.0
    P[limbo, :, limbo] = 1.0
    mean_reward = stat.reward_sums / np.maximum(n, 1.0)
    untried = (n == 0) & ~stat.terminal_seen[:, None]
    flat = dynprog.flat_transitions(P)
    h_eff = objective_horizon(horizon, discount, objective)
    columns = []
    for limit in (scale, -scale):
        R = np.full((S + 1, A), limit)  # the limbo state and untried pairs pay the limit
        R[:S] = np.where(untried, limit, mean_reward)
        R[terminal] = 0.0
        if objective == "discounted":
            Q = dynprog.discounted_optimal_values(flat, R, discount)[0][None]
        else:
            gamma = stationary_discount(horizon, discount, tie_break) if stationary else discount
            Q = dynprog.backward_induction(flat, R, horizon, gamma)[0]
        Q = Q[:, :S]
        columns.append((Q - Q.max(axis=2, keepdims=True)) / (scale * h_eff))
    return np.stack(columns, axis=-1)


def log_scaled(advantages: np.ndarray, unit: float = LOG_PLAN_UNIT) -> np.ndarray:
    """Advantages (<= 0, in units of reward scale x horizon, so >= -2) mapped monotonically
    onto [-1, 0] on a log scale: -log(1 + |x| / unit) / log(1 + 1 / unit). 1e-4 reads as
    -0.33, 1e-2 as -0.67, -1 as -1: every decade of the gap between actions is visible."""
    return -np.log1p(-np.minimum(advantages, 0.0) / unit) / np.log1p(1.0 / unit)


def featurize(stat: ExperienceStatistic, horizon: int, discount: float,
              objective: str = "finite", max_successors: int | None = None,
              bonus: float = 0.0, value_features: bool = False,
              stationary_plans: bool = False, log_plans: bool = False,
              scale_floor: float = 0.0, tie_break: float = 1.0,
              steps_left: int | None = None) -> Context:
    """The network input for a statistic (see the module docstring); ``stationary_plans``
    and ``tie_break`` as ``planned_advantages``' ``stationary`` and ``tie_break``;
    ``log_plans`` reads the plans' advantages through ``log_scaled``. ``scale_floor``: read
    rewards in units of at least this (a known bound on |reward|), so that small rewards
    seen first look small, and an untried pair in the R-max plan pays at least it.
    ``steps_left``: for finite horizons, the policy asked for is the one with that many
    steps to go (default all H: the first step, and the stationary policy)."""
    return featurize_steps(stat, horizon, discount, objective, max_successors, bonus,
                           value_features, stationary_plans, log_plans, scale_floor,
                           tie_break, [steps_left])[0]


def featurize_steps(stat: ExperienceStatistic, horizon: int, discount: float,
                    objective: str = "finite", max_successors: int | None = None,
                    bonus: float = 0.0, value_features: bool = False,
                    stationary_plans: bool = False, log_plans: bool = False,
                    scale_floor: float = 0.0, tie_break: float = 1.0,
                    steps: list[int | None] | None = None) -> list[Context]:
    """``featurize`` for several ``steps_left`` at once (default: 1..H, or one context for
    ``discounted`` objectives): the statistic is read and planned once; contexts differ only
    in their plans and steps-left feature."""
    if steps is None:
        steps = [None] if objective == "discounted" else list(range(1, horizon + 1))
    counts = stat.transition_counts
    S, A, _ = counts.shape
    n = counts.sum(axis=2)
    scale = reward_scale(stat, scale_floor)
    mean_reward = stat.reward_sums / np.maximum(n, 1.0) / scale
    visited = n > 0
    pair = np.stack([np.log1p(n), mean_reward, visited.astype(float)], axis=-1)
    plans = None
    if value_features:
        plans = plans_by_step(stat, horizon, discount, objective, stationary_plans,
                              scale_floor, tie_break)
    state = np.stack([stat.terminal_seen.astype(float), np.log1p(n.sum(axis=1))],
                     axis=-1).astype(np.float32)
    h_eff = objective_horizon(horizon, discount, objective)
    successors, log_probs = _successor_lists(counts, n, max_successors)
    log_probs = log_probs.astype(np.float32)
    contexts = []
    for h in steps:
        left = h_eff if objective == "discounted" or h is None else float(h)
        if objective != "discounted" and not 1 <= left <= horizon:
            raise ValueError(f"steps_left must be in 1..{horizon}, got {h}")
        x = pair
        if plans is not None:
            row = plans[0 if objective == "discounted" else horizon - int(left)]
            # log-scale only the rows asked for: online asks for one step of H
            x = np.concatenate([pair, log_scaled(row) if log_plans else row], axis=-1)
        glob = np.array([np.log(h_eff) / 5.0, np.log1p(n.sum()) / 10.0, _bonus_feature(bonus),
                         np.log(left) / 5.0])
        contexts.append(Context(x.astype(np.float32), state, glob.astype(np.float32),
                                successors, log_probs, scale))
    return contexts


def with_bonus(context: Context, bonus: float) -> Context:
    """The same context asking for another bonus (no re-featurizing, no re-planning)."""
    glob = context.global_features.copy()
    glob[2] = _bonus_feature(bonus)
    return dataclasses.replace(context, global_features=glob)


def _bonus_feature(bonus: float) -> float:
    return float(np.sign(bonus) * np.sqrt(abs(bonus)))


def _successor_lists(counts: np.ndarray, n: np.ndarray, cap: int | None):
    S, A, _ = counts.shape
    M = max(1, int((counts > 0).sum(axis=2).max()))
    if cap is not None:
        M = min(M, cap)
    order = np.argsort(-counts, axis=2, kind="stable")[..., :M]  # most-visited first
    kept = np.take_along_axis(counts, order, axis=2)
    total = kept.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_probs = np.where(kept > 0, np.log(kept / np.maximum(total, 1.0)), -np.inf)
    unvisited = n == 0
    order[unvisited, 0] = np.nonzero(unvisited)[0]
    log_probs[unvisited, 0] = 0.0
    return order.astype(np.int64), log_probs


def collate(contexts: list[Context], targets: list[np.ndarray] | None = None,
            loss_masks: list[np.ndarray] | None = None) -> Batch:
    """Pad contexts of different S, A and M into one batch."""
    B = len(contexts)
    S = max(c.pair_features.shape[0] for c in contexts)
    A = max(c.pair_features.shape[1] for c in contexts)
    M = max(c.successors.shape[2] for c in contexts)
    widths = {c.pair_features.shape[-1] for c in contexts}
    if len(widths) != 1:
        raise ValueError(f"contexts with and without value features in one batch: {widths}")
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
