"""rmax-plan: gnn-fm's own planner inputs, acted on with no network.

gnn-fm reads, per pair, the advantages of two exact plans of the empirical model
(rlbench_icl/fm/planning.py): an R-max plan, where an untried pair pays the reward scale on
every remaining step, and a pessimistic plan, where it costs it. This submission acts
greedily on those same plans, read with gnn-fm's own settings, so that the leaderboard shows
what the network adds over its inputs:

- Online: after every episode, greedy on the R-max plan of all experience so far, rewards in
  units of at least the task's declared bound (as gnn-fm reads them online), one policy per
  episode (the first step's plan, as gnn-fm). Its exploitation policy is greedy on the
  pessimistic plan.
- Offline: greedy on the pessimistic plan of the dataset's statistic behind gnn-fm's lasting
  virtual trap (rlbench_icl/fm/virtual.py); on finite horizons one policy per step.

Both plans are discounted by gnn-fm's tie break 1 - c/H on finite horizons (c read from the
shipped checkpoint's config.json). Nothing here is tuned; a test checks that these settings
are gnn-fm's. Deterministic: ties go to the lowest action, the rng is unused.
"""

import json
from pathlib import Path

import numpy as np

from rlbench_icl import Dataset, ExperienceStatistic, Submission, TaskInfo, greedy_policy
from rlbench_icl.fm.planning import plans_by_step
from rlbench_icl.fm.virtual import VirtualOutcome, with_virtual_outcome

CHECKPOINT = Path(__file__).with_name("gnn_fm_checkpoint")
TIE_BREAK = json.loads((CHECKPOINT / "config.json").read_text()
                       )["train"]["model"]["features"]["tie_break"]
ONLINE_RANGE_SCALE = True  # gnn-fm's ONLINE reading
OFFLINE_TRAP = VirtualOutcome(1.0, "worst-recurring", lasting=True)  # gnn-fm's OFFLINE one
OPTIMISTIC, PESSIMISTIC = 0, 1  # the plans' columns


class PlanAgent:
    def __init__(self, info: TaskInfo, rng: np.random.Generator):
        self.info = info
        self.stat = ExperienceStatistic(info.num_states, info.num_actions)
        self._refresh()

    def act(self, state: int, step: int) -> int:
        return self.actions[state]

    def observe(self, state, action, reward, next_state, terminated) -> None:
        self.stat.update(state, action, reward, next_state, terminated)

    def end_episode(self) -> None:
        self._refresh()

    def policy(self) -> np.ndarray:
        return self.exploit

    def _refresh(self) -> None:
        floor = self.info.reward_bound if ONLINE_RANGE_SCALE else 0.0
        first = plans_by_step(self.stat, self.info, TIE_BREAK, floor)[0]  # (S, A, 2)
        self.actions = first[..., OPTIMISTIC].argmax(axis=1).tolist()
        self.exploit = greedy_policy(first[..., PESSIMISTIC])


def solve_offline(info: TaskInfo, dataset: Dataset, rng: np.random.Generator) -> np.ndarray:
    """Greedy on the pessimistic plan behind the trap: (H, S, A) on finite horizons (row t
    with H - t steps to go), (S, A) for discounted tasks."""
    stat = ExperienceStatistic.from_dataset(dataset, info.num_states, info.num_actions)
    trapped = with_virtual_outcome(stat, OFFLINE_TRAP)
    plans = plans_by_step(trapped, info, TIE_BREAK)[:, :info.num_states, :, PESSIMISTIC]
    policy = greedy_policy(plans)
    return policy[0] if info.objective == "discounted" else policy


SUBMISSION = Submission(
    name="rmax-plan",
    version="1",
    make_online_agent=PlanAgent,
    solve_offline=solve_offline,
    authors="rlbench-icl developers",
    description="gnn-fm's planner inputs without the network: greedy on its R-max plan "
                "online, on its pessimistic plan offline.",
)
