"""rmax-plan: gnn-fm's planner inputs acted on alone, with gnn-fm's settings."""

import numpy as np

from rlbench_icl import (
    ExperienceStatistic,
    OfflineSettings,
    OnlineSettings,
    TaskInfo,
    check_agent,
    default_registry,
)
from rlbench_icl.discovery import _import_file, resolve
from rlbench_icl.fm.planning import plans_by_step
from rlbench_icl.fm.policy import load_network
from rlbench_icl.protocols import run_offline, run_online

PLAN = resolve("rmax-plan")[1]


def test_its_settings_are_the_shipped_gnn_fms():
    gnn_fm, plan = (_import_file(resolve(name)[0].split("::")[0])
                    for name in ("gnn-fm", "rmax-plan"))
    assert plan.TIE_BREAK == load_network(gnn_fm.CHECKPOINT).config.features.tie_break
    assert plan.ONLINE_RANGE_SCALE == gnn_fm.ONLINE.range_scale
    assert plan.OFFLINE_TRAP == gnn_fm.OFFLINE.virtual and gnn_fm.OFFLINE.bonus == 0.0


def test_online_it_acts_greedily_on_the_r_max_plan_and_exploits_the_pessimistic_one():
    check_agent(PLAN, ("online", "offline"))
    info = TaskInfo.from_task(default_registry().make("RiverSwim6-v0"), 5)
    agent = PLAN.make_online_agent(info, np.random.default_rng(0))
    for s, a, r, s2 in ((0, 0, 0.005, 0), (0, 1, 0.0, 1), (1, 0, 0.0, 0)):
        agent.observe(s, a, r, s2, False)
    agent.end_episode()
    stat = agent.stat
    first = plans_by_step(stat, info, 0.3, info.reward_bound)[0]
    assert [agent.act(s, 0) for s in range(6)] == first[..., 0].argmax(axis=1).tolist()
    assert agent.act(1, 0) == 1  # (1, 1) is untried: R-max goes there
    np.testing.assert_array_equal(agent.policy().argmax(axis=1), first[..., 1].argmax(axis=1))


def test_it_learns_online_and_offline_on_a_quick_task():
    task = default_registry().make("RiverSwim6-v0")
    online = run_online(task, PLAN, OnlineSettings(num_episodes=30), seed=0)
    assert task.normalise(np.array(online["episodes"]["policy_values"]))[-5:].mean() > 0.5
    settings = OfflineSettings(dataset_episodes=(50,), epsilons=(0.5,))
    assert run_offline(task, PLAN, settings, seed=0)["cells"][0]["normalised_value"] > 0.5


def test_offline_gives_one_policy_per_step_without_the_virtual_state():
    from rlbench_icl.protocols.offline import behaviour_policy, collect_dataset

    task = default_registry().make("FrozenLake4x4-v0")
    info = TaskInfo.from_task(task)
    data = collect_dataset(task, behaviour_policy(task, 1.0), 5, np.random.default_rng(0))
    policy = PLAN.solve_offline(info, data, np.random.default_rng(0))
    assert policy.shape == (info.horizon, 16, 4)
    assert ExperienceStatistic.from_dataset(data, 16, 4).visits.sum() == len(data)
