"""plugin-online: certainty equivalence online, the policy gnn-fm-paper's inputs alone define.

gnn-fm-paper reads only the experience statistic, and that statistic defines a policy with no
network: the optimal policy of the empirical model, untried pairs as self-loops paying 0 (as
the network reads them). Offline that policy is the reference submission ``plugin``
(submissions/vi_lcb.py); this is the same plan online, so that the leaderboard shows what
gnn-fm-paper's network adds over its inputs in both protocols:

- After every episode (gnn-fm-paper's cadence) it plans exactly on the empirical model of all
  experience so far, for the task's objective (one policy per step on finite horizons), and
  acts greedily on it in the next episode. Its exploitation policy is the same plan.
- It never explores on purpose: an untried pair looks worth 0 for ever, so it finds only
  what its first greedy choices lead to. That is the point of the baseline, not a setting.

Nothing is tuned. Deterministic: ties go to the lowest action index, the rng is unused.
"""

import numpy as np

from rlbench_icl import (
    ExperienceStatistic,
    Submission,
    TaskInfo,
    backward_induction,
    discounted_optimal_values,
    flat_transitions,
    greedy_policy,
)


def plug_in_policy(info: TaskInfo, stat: ExperienceStatistic) -> np.ndarray:
    """The empirical model's optimal greedy policy: (S, A) for discounted tasks, else
    (H, S, A), row h with H - h steps to go (``plugin``'s offline solve, on a statistic)."""
    P, R, _ = stat.sparse_empirical_model()
    P = flat_transitions(P)
    if info.objective == "discounted":
        return greedy_policy(discounted_optimal_values(P, R, info.discount)[0])
    return greedy_policy(backward_induction(P, R, info.horizon, info.discount)[0])


class PlugInAgent:
    def __init__(self, info: TaskInfo, rng: np.random.Generator):
        self.info = info
        self.stat = ExperienceStatistic(info.num_states, info.num_actions)
        self.end_episode()

    def act(self, state: int, step: int) -> int:
        return int(self.actions[state] if self.actions.ndim == 1 else self.actions[step, state])

    def observe(self, state, action, reward, next_state, terminated) -> None:
        self.stat.update(state, action, reward, next_state, terminated)

    def end_episode(self) -> None:
        self.plan = plug_in_policy(self.info, self.stat)
        self.actions = self.plan.argmax(axis=-1)

    def policy(self) -> np.ndarray:
        return self.plan


SUBMISSION = Submission(
    name="plugin-online",
    version="1",
    make_online_agent=PlugInAgent,
    authors="rlbench-icl developers",
    description="Certainty equivalence online: greedy on the empirical model, no exploration.",
)
