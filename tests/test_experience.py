import numpy as np

from rlbench_icl import ExperienceStatistic, default_registry
from rlbench_icl.protocols import collect_dataset
from rlbench_icl.protocols.offline import behaviour_policy


def test_online_updates_equal_the_vectorised_dataset_statistic():
    task = default_registry().make("FrozenLake4x4-v0")
    data = collect_dataset(task, behaviour_policy(task, 1.0), 500, np.random.default_rng(0))
    S, A = task.mdp.num_states, task.mdp.num_actions
    online = ExperienceStatistic(S, A)
    for t in range(len(data)):
        online.update(int(data.states[t]), int(data.actions[t]), float(data.rewards[t]),
                      int(data.next_states[t]), bool(data.terminated[t]))
    batch = ExperienceStatistic.from_dataset(data, S, A)
    for name in ("transition_counts", "reward_sums", "reward_sq_sums", "terminal_seen"):
        np.testing.assert_array_equal(getattr(online, name), getattr(batch, name))
    assert online.max_abs_reward == batch.max_abs_reward == 1.0


def test_empirical_model_by_hand():
    stat = ExperienceStatistic(3, 2)
    stat.update(0, 0, 1.0, 1, False)
    stat.update(0, 0, 0.0, 2, True)
    stat.update(0, 0, 1.0, 1, False)
    P, R, n = stat.empirical_model()
    np.testing.assert_allclose(P[0, 0], [0, 2 / 3, 1 / 3])
    assert R[0, 0] == 2 / 3 and n[0, 0] == 3 and n[0, 1] == 0
    np.testing.assert_allclose(P[0, 1], [1, 0, 0])  # unvisited: self-loop, reward 0
    np.testing.assert_allclose(P[2], [[0, 0, 1], [0, 0, 1]])  # seen terminal: absorbing
    np.testing.assert_allclose(P.sum(axis=2), 1.0)
