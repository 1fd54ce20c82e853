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

The settings are chosen on synthetic MDPs only (benchmarks/tune_fm.py).
"""

from __future__ import annotations

from typing import Literal

from ..experience import ExperienceStatistic
from .features import reward_scale

WORST = ("worst", "worst-recurring")


def with_virtual_outcome(stat: ExperienceStatistic, pseudo_count: float,
                         reward_multiple: float | Literal["worst", "worst-recurring"],
                         lasting: bool = False, scale_floor: float = 0.0
                         ) -> ExperienceStatistic:
    """A copy of ``stat`` with one extra state, index S (see the module docstring); a
    numeric ``reward_multiple`` multiplies ``reward_scale(stat, scale_floor)``."""
    if pseudo_count < 0:
        raise ValueError(f"pseudo_count must be >= 0, got {pseudo_count}")
    if isinstance(reward_multiple, str) and (reward_multiple not in WORST or not lasting):
        raise ValueError(f"reward_multiple must be a number, or one of {WORST} with "
                         f"lasting=True (a once-paying worst reward is cheaper than walking "
                         f"on), got {reward_multiple!r} with lasting={lasting}")
    S, A = stat.num_states, stat.num_actions
    if isinstance(reward_multiple, str):
        reward = _worst_reward(stat, recurring_only=reward_multiple == "worst-recurring")
    else:
        reward = reward_multiple * reward_scale(stat, scale_floor)
    out = ExperienceStatistic(S + 1, A)
    out.transition_counts[:S, :, :S] = stat.transition_counts
    out.reward_sums[:S] = stat.reward_sums
    out.reward_sq_sums[:S] = stat.reward_sq_sums
    live = ~stat.terminal_seen  # terminal states have no outgoing experience
    out.transition_counts[:S, :, S][live] = pseudo_count
    out.reward_sums[:S][live] += pseudo_count * reward
    out.reward_sq_sums[:S][live] += pseudo_count * reward * reward
    out.terminal_seen[:S] = stat.terminal_seen
    if lasting:  # one pseudo-transition per action back to itself, paying the reward again
        out.transition_counts[S, :, S] = 1.0
        out.reward_sums[S] = reward
        out.reward_sq_sums[S] = reward * reward
    else:
        out.terminal_seen[S] = True
    recorded = pseudo_count > 0 or lasting  # the reward appears in the edited statistic
    out.max_abs_reward = max(stat.max_abs_reward, abs(reward) if recorded else 0.0)
    out.rebuild_keys()  # keep observed_keys() true
    return out


def _worst_reward(stat: ExperienceStatistic, recurring_only: bool = False) -> float:
    """min(0, lowest mean reward over the pairs seen[, never seen entering a terminal])."""
    n = stat.visits
    seen = n > 0
    if recurring_only:
        seen &= stat.transition_counts[:, :, stat.terminal_seen].sum(axis=2) == 0
    if not seen.any():
        return 0.0
    return min(0.0, float((stat.reward_sums[seen] / n[seen]).min()))
