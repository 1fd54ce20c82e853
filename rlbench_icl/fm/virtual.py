"""Optimism and pessimism by context: a virtual outcome added to every pair's experience.

The network is trained to output the optimal policy of the MDP its statistic describes; it
has no notion of how uncertain that statistic is. To make it explore (online) or stay on
well-covered ground (offline) without retraining it, the statistic itself is edited, in the
spirit of R-max and of pseudo-count priors: every non-terminal pair gets ``pseudo_count``
extra transitions to one virtual state, whose reward is ``reward_multiple`` times the largest
reward seen so far (or the worst reward seen, below). A pair seen n times then reaches it
with probability k / (n + k): a bonus (or a penalty) that fades as 1/n, like a count-based
confidence bound, and an untried pair's value is dominated by it. The network plans on the
edited statistic; only the real states' logits are used.

Positive ``reward_multiple``: a heaven (optimism, online exploration). Negative: a trap
(pessimism, offline).

By default the virtual state is terminal: it pays once. Where every step costs (a reward of
-1 per step until a goal), a trap that costs the largest reward once is *cheaper* than going
on, so a once-paying trap lures a plan towards the uncertain pairs it should avoid. With
``lasting`` the virtual state is not terminal: every action stays in it and pays again each
step (R-max's fictitious state), so the outcome is worth a whole remaining horizon of the
reward, for better or worse. ``reward_multiple = "worst"`` (lasting only) makes the virtual
state pay the lowest mean reward seen on any pair, or 0 if higher: a lasting trap "as bad as
the worst place seen" (a hole where rewards are >= 0, a step cost where steps cost). With
noisy rewards that minimum is biased low (it includes pairs seen once): more pessimism.
``"worst-recurring"`` takes that minimum only over pairs never seen entering a terminal
state: a cost paid on the way into a hole or a goal is paid once, and repeating it on every
step would make the trap far worse than any real place (a hole costing 1 once becomes a
trap costing 1 per step); step costs, which recur, are kept.

The settings are chosen on synthetic MDPs only (experiments/tune_fm.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..experience import ExperienceStatistic
from .planning import reward_scale

WORST = ("worst", "worst-recurring")


@dataclass(frozen=True)
class VirtualOutcome:
    """One virtual outcome added to every non-terminal pair (see the module docstring).

    Attributes:
        pseudo_count: virtual transitions per pair (>= 0).
        reward: the virtual state's reward, as a multiple of the reward scale, or ``worst``
            / ``worst-recurring`` (``lasting`` only).
        lasting: the virtual state is absorbing and pays every step (else terminal: once).
    """

    pseudo_count: float
    reward: float | Literal["worst", "worst-recurring"]
    lasting: bool = False

    def __post_init__(self) -> None:
        if self.pseudo_count < 0:
            raise ValueError(f"pseudo_count must be >= 0, got {self.pseudo_count}")
        if isinstance(self.reward, str) and (self.reward not in WORST or not self.lasting):
            raise ValueError(f"reward must be a number, or one of {WORST} with lasting=True "
                             f"(a once-paying worst reward is cheaper than walking on), got "
                             f"{self.reward!r} with lasting={self.lasting}")


def with_virtual_outcome(stat: ExperienceStatistic, outcome: VirtualOutcome,
                         scale_floor: float = 0.0) -> ExperienceStatistic:
    """A copy of ``stat`` with one extra state, index S (see the module docstring); a
    numeric reward multiplies ``reward_scale(stat, scale_floor)``. Built from the observed
    keys: stored dense or sparse as any statistic of S + 1 states."""
    S, A = stat.num_states, stat.num_actions
    if isinstance(outcome.reward, str):
        reward = _worst_reward(stat, recurring_only=outcome.reward == "worst-recurring")
    else:
        reward = outcome.reward * reward_scale(stat, scale_floor)
    k = outcome.pseudo_count
    live = ~stat.terminal_seen  # terminal states have no outgoing experience
    rows, cols, counts = stat.sorted_counts()
    virtual_rows = [np.flatnonzero(np.repeat(live, A))]  # pairs s * A + a -> S
    if outcome.lasting:  # one pseudo-transition per action back to itself, paying again
        virtual_rows.append(S * A + np.arange(A))
    virtual_rows = np.concatenate(virtual_rows)
    virtual_counts = np.where(virtual_rows < S * A, k, 1.0)
    out = ExperienceStatistic.from_counts(
        S + 1, A, np.concatenate([rows, virtual_rows]),
        np.concatenate([cols, np.full(len(virtual_rows), S)]),
        np.concatenate([counts, virtual_counts]))
    out.reward_sums[:S] = stat.reward_sums
    out.reward_sq_sums[:S] = stat.reward_sq_sums
    out.reward_sums[:S][live] += k * reward
    out.reward_sq_sums[:S][live] += k * reward * reward
    out.terminal_seen[:S] = stat.terminal_seen
    if outcome.lasting:
        out.reward_sums[S] = reward
        out.reward_sq_sums[S] = reward * reward
    else:
        out.terminal_seen[S] = True
    recorded = k > 0 or outcome.lasting  # the reward appears in the edited statistic
    out.max_abs_reward = max(stat.max_abs_reward, abs(reward) if recorded else 0.0)
    return out


def _worst_reward(stat: ExperienceStatistic, recurring_only: bool = False) -> float:
    """min(0, lowest mean reward over the pairs seen[, never seen entering a terminal])."""
    n = stat.visits
    seen = n > 0
    if recurring_only:
        rows, cols, _ = stat.sorted_counts()
        entering = np.zeros(n.size, dtype=bool)
        entering[rows[stat.terminal_seen[cols]]] = True
        seen &= ~entering.reshape(n.shape)
    if not seen.any():
        return 0.0
    return min(0.0, float((stat.reward_sums[seen] / n[seen]).min()))
