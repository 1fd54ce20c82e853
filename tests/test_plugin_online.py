"""plugin-online: gnn-fm-paper's inputs alone, online; the same plan as ``plugin`` offline."""

import numpy as np
import pytest

from rlbench_icl import OnlineSettings, TaskInfo, default_registry
from rlbench_icl.discovery import resolve
from rlbench_icl.protocols import collect_dataset, run_online
from rlbench_icl.protocols.offline import behaviour_policy

PLUGIN_ONLINE = resolve("plugin-online")[1]
PLUGIN = resolve("plugin")[1]


@pytest.mark.parametrize("task_id", ["RiverSwim6-v0", "PaperGrid3x3-v0"])  # finite; discounted
def test_its_plan_is_the_offline_plugins_on_the_same_experience(task_id):
    task = default_registry().make(task_id)
    info = TaskInfo.from_task(task)
    data = collect_dataset(task, behaviour_policy(task, 1.0), 30, np.random.default_rng(0))
    agent = PLUGIN_ONLINE.make_online_agent(info, np.random.default_rng(1))
    for s, a, r, s2, done in zip(data.states, data.actions, data.rewards, data.next_states,
                                 data.terminated, strict=True):
        agent.observe(int(s), int(a), float(r), int(s2), bool(done))
    agent.end_episode()
    offline = PLUGIN.solve_offline(info, data, np.random.default_rng(2))
    assert np.array_equal(agent.policy(), offline)
    assert agent.policy().ndim == (2 if info.objective == "discounted" else 3)


def test_it_acts_on_its_plan_step_by_step_and_never_explores():
    task = default_registry().make("RiverSwim6-v0")
    agent = PLUGIN_ONLINE.make_online_agent(TaskInfo.from_task(task), np.random.default_rng(0))
    assert all(agent.act(0, h) == 0 for h in range(task.mdp.horizon)), "nothing seen: action 0"
    agent.observe(0, 1, 0.5, 1, False)  # a reward behind action 1 of state 0
    agent.end_episode()
    last = task.mdp.horizon - 1  # one step to go: take the reward
    assert agent.act(0, last) == 1 and agent.plan[last, 0].tolist() == [0.0, 1.0]
    # Earlier, untried action 0 (a self-loop paying 0) can wait and take it later: a tie,
    # which goes to the lowest action.
    assert agent.act(0, 0) == 0
    out = run_online(task, PLUGIN_ONLINE, OnlineSettings(num_episodes=20), seed=0)
    again = run_online(task, PLUGIN_ONLINE, OnlineSettings(num_episodes=20), seed=0)
    assert out == again
    assert len(out["episodes"]["policy_values"]) == 20
