"""The model's planner inputs: exact plans of the empirical model, without torch.

From an experience statistic: the reward scale rewards are read in, the R-max bonus, and the
advantages of two exact plans on the empirical model — an optimistic one, where an untried
pair pays the reward scale every remaining step (R-max), and a pessimistic one, where it
costs it — for the first step or every step of a finite horizon. The foundation model reads
them (``features``); the ``rmax-plan`` reference submission acts on them alone, so a reader
sees what the network adds over its own inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import dynprog
from ..experience import ExperienceStatistic

# log_scaled's unit: advantages of 1e-6 of (reward scale x horizon) and below read as ~0.
LOG_PLAN_UNIT = 1e-6


class Objective(Protocol):
    """What featurizing needs of a task: ``TaskInfo``, ``TabularMDP`` and ``Horizon`` fit."""

    horizon: int
    discount: float
    objective: str


@dataclass(frozen=True)
class Horizon:
    """A task's objective on its own: H, gamma and ``finite`` or ``discounted``."""

    horizon: int
    discount: float = 1.0
    objective: str = "finite"


def reward_scale(stat: ExperienceStatistic, floor: float = 0.0) -> float:
    """The unit rewards are read in: the largest |reward| observed, or ``floor`` if larger
    (a known bound on rewards), 1 if both are 0."""
    scale = max(stat.max_abs_reward, floor)
    return scale if scale > 0 else 1.0


def objective_horizon(task: Objective) -> float:
    """The horizon the objective looks ahead: H, or ``min(H, 1 / (1 - gamma))`` for a
    discounted finite-horizon value, and ``1 / (1 - gamma)`` for ``discounted`` tasks."""
    if task.objective == "discounted":
        return 1.0 / (1.0 - task.discount)
    if task.discount >= 1.0:
        return float(task.horizon)
    return min(float(task.horizon), 1.0 / (1.0 - task.discount))


def bonus_rewards(stat: ExperienceStatistic, bonus: float, h_eff: float,
                  scale_floor: float = 0.0) -> np.ndarray:
    """(S, A) per-step R-max reward bonus: ``bonus * h_eff * reward_scale`` on pairs never
    tried, 0 on pairs tried and at terminal states. At ``bonus`` = 1 an untried pair is worth
    a whole horizon of the largest reward seen, like UCB-VI's optimistic value for untried
    pairs; ``bonus`` < 0 is pessimism. The network is trained to output the optimal policy of
    the true MDP with these rewards added (``rlbench_icl.fm.prior``)."""
    n = stat.visits
    b = np.where(n == 0, bonus * h_eff * reward_scale(stat, scale_floor), 0.0)
    b[stat.terminal_seen] = 0.0
    return b


def stationary_discount(horizon: int, discount: float, tie_break: float) -> float:
    """The discount that makes a finite-horizon plan's first-step Q a good *stationary*
    policy: min(gamma, 1 - tie_break / H). Undiscounted, every action that reaches a one-off
    goal within the remaining H steps ties at the first step, and a stationary policy picking
    among tied actions can circle forever; a discount of 1 - c/H prefers the quicker one. A
    small c still breaks those ties but distorts a per-step (non-stationary) plan less
    (``experiments/stationary_ceiling.py``). ``tie_break`` = 0 gives gamma."""
    return min(discount, 1.0 - tie_break / horizon)


def planned_advantages(stat: ExperienceStatistic, task: Objective, tie_break: float = 0.0,
                       scale_floor: float = 0.0, steps_left: int | None = None) -> np.ndarray:
    """(S, A, 2): ``(Q(s, a) - max_a' Q(s, a')) / (scale * h_eff)`` of the optimal plan on
    the empirical model under the task's objective, where an untried pair pays ``+scale``
    (optimistic plan, column 0: R-max) or ``-scale`` (pessimistic plan, column 1) and leads to
    an absorbing state that pays the same every step. States seen as terminal are absorbing
    with reward 0. For finite horizons: Q with ``steps_left`` steps to go (default all H, the
    first step), discounted by ``stationary_discount(H, gamma, tie_break)``. The scale is
    ``reward_scale(stat, scale_floor)``."""
    rows = 1 if task.objective == "discounted" else task.horizon
    return plans_by_step(stat, task, tie_break, scale_floor,
                         [rows - (steps_left or rows)])[0]


def plans_by_step(stat: ExperienceStatistic, task: Objective, tie_break: float = 0.0,
                  scale_floor: float = 0.0, steps: Sequence[int] | None = None
                  ) -> np.ndarray:
    """``planned_advantages`` for every step at once: (H, S, A, 2), row t with H - t steps
    to go, from one backward induction ((1, S, A, 2) for ``discounted`` objectives); with
    ``steps``, only those rows, (len(steps), S, A, 2). Time and memory linear in the
    observed transitions and in H * S * A: the empirical model is built sparse, from the
    observed keys, and planned on as ``dynprog.flat_transitions`` chooses (dense when
    small)."""
    S = stat.num_states
    scale = reward_scale(stat, scale_floor)
    n = stat.visits
    flat = dynprog.flat_transitions(_limbo_model(stat, n))
    h_eff = objective_horizon(task)
    columns = []
    for limit in (scale, -scale):
        R = _limbo_rewards(stat, n, limit)
        if task.objective == "discounted":
            Q = dynprog.discounted_optimal_values(flat, R, task.discount)[0][None]
        else:
            gamma = stationary_discount(task.horizon, task.discount, tie_break)
            Q = dynprog.backward_induction(flat, R, task.horizon, gamma)[0]
        Q = Q[:, :S] if steps is None else Q[steps, :S]
        columns.append((Q - Q.max(axis=2, keepdims=True)) / (scale * h_eff))
    return np.stack(columns, axis=-1)


def _limbo_model(stat: ExperienceStatistic, n: np.ndarray):
    """((S + 1) * A, S + 1) empirical transitions as a ``scipy.sparse.csr_array``, rows
    ``s * A + a``; untried pairs lead to the extra absorbing state S (limbo); states seen as
    terminal are absorbing. ``n``: (S, A) visits. Its entries, in CSR order, are those of
    the dense model ``counts / n`` with these edits, so a dense copy is the same bits."""
    import scipy.sparse  # here, not at the top: scipy costs a CLI start 0.3 s

    S, A = stat.num_states, stat.num_actions
    rows, cols, counts = stat.sorted_counts()
    terminal = np.repeat(stat.terminal_seen, A)  # per row s * A + a
    kept = ~terminal[rows]
    untried = np.flatnonzero((n.ravel() == 0) & ~terminal)
    absorbing = np.flatnonzero(terminal)
    limbo = S * A + np.arange(A)
    # one entry for every row without observed successors kept: to limbo, or to itself
    single_rows = np.concatenate([untried, absorbing, limbo])
    entry_rows = np.concatenate([rows[kept], single_rows])
    entry_cols = np.concatenate([cols[kept], np.full(len(untried), S), absorbing // A,
                                 np.full(A, S)])
    data = np.concatenate([counts[kept] / np.maximum(n, 1.0).ravel()[rows[kept]],
                           np.ones(len(single_rows))])
    order = np.argsort(entry_rows, kind="stable")  # a row's successors stay sorted
    num_rows = (S + 1) * A
    indptr = np.concatenate([[0], np.cumsum(np.bincount(entry_rows, minlength=num_rows))])
    return scipy.sparse.csr_array((data[order], entry_cols[order], indptr),
                                  shape=(num_rows, S + 1))


def _limbo_rewards(stat: ExperienceStatistic, n: np.ndarray, limit: float) -> np.ndarray:
    """(S + 1, A) mean rewards; untried pairs and limbo pay ``limit``, terminal states 0.
    ``n``: (S, A) visits."""
    S, A = stat.num_states, stat.num_actions
    untried = (n == 0) & ~stat.terminal_seen[:, None]
    R = np.full((S + 1, A), limit)
    R[:S] = np.where(untried, limit, stat.reward_sums / np.maximum(n, 1.0))
    R[np.nonzero(stat.terminal_seen)[0]] = 0.0
    return R


def log_scaled(advantages: np.ndarray, unit: float = LOG_PLAN_UNIT) -> np.ndarray:
    """Advantages (<= 0, in units of reward scale x horizon, so >= -2) mapped monotonically
    onto [-1, 0] on a log scale: -log(1 + |x| / unit) / log(1 + 1 / unit). 1e-4 reads as
    -0.33, 1e-2 as -0.67, -1 as -1: every decade of the gap between actions is visible."""
    return -np.log1p(-np.minimum(advantages, 0.0) / unit) / np.log1p(1.0 / unit)
