import numpy as np
import pytest

from rlbench_icl import (
    AgentError,
    OfflineSettings,
    OnlineSettings,
    Submission,
    TaskInfo,
    default_registry,
)
from rlbench_icl.discovery import resolve
from rlbench_icl.protocols import (
    check_action,
    check_policy,
    collect_dataset,
    make_streams,
    run_offline,
    run_online,
)
from rlbench_icl.protocols.offline import behaviour_policy
from rlbench_icl.protocols.online import episodes_to_solve

REGISTRY = default_registry()
RANDOM = resolve("random")[1]


class OptimalAgent:
    """Cheats on purpose (knows the task) to pin the protocol's scores at 1."""

    def __init__(self, task):
        self.pi = task.optimal_policy

    def act(self, state, step):
        table = self.pi if self.pi.ndim == 2 else self.pi[step]
        return int(np.argmax(table[state]))

    def observe(self, *transition):
        pass

    def end_episode(self):
        pass

    def policy(self):
        return self.pi


def oracle(task_id):
    task = REGISTRY.make(task_id)
    return task, Submission(name="oracle", version="0",
                            make_online_agent=lambda info, rng: OptimalAgent(task),
                            solve_offline=lambda info, data, rng: task.optimal_policy)


def test_episodes_to_solve_by_hand():
    curve = [0.5, 0.96, 0.97, 0.2] + [0.95] * 8 + [0.1]
    assert episodes_to_solve(curve) == 5
    assert episodes_to_solve([0.99] * 7) is None
    assert episodes_to_solve([0.99] * 8) == 1


def test_online_scores_of_an_optimal_agent():
    task, sub = oracle("WindyGridworld-v0")  # deterministic: every return is V*
    out = run_online(task, sub, OnlineSettings(num_episodes=12), seed=0)
    scores = out["scores"]
    assert out["episodes"]["returns"] == [-15.0] * 12
    assert scores["online_score"] == 1.0 and scores["final_score"] == 1.0
    assert scores["cumulative_regret"] == 0.0
    assert scores["episodes_to_solve"] == 1 and scores["episodes_to_solve_source"] == "policy"


def test_online_realised_returns_average_to_the_exact_value():
    task, sub = oracle("FrozenLake4x4-v0")
    out = run_online(task, sub, OnlineSettings(num_episodes=3000), seed=1)
    returns = np.array(out["episodes"]["returns"])
    se = returns.std() / np.sqrt(len(returns))
    assert abs(returns.mean() - task.optimal_value) < 4 * se
    assert out["episodes"]["policy_values"][0] == pytest.approx(task.optimal_value)


def test_random_agent_scores_zero_in_expectation():
    task = REGISTRY.make("RiverSwim6-v0")
    out = run_online(task, RANDOM, OnlineSettings(num_episodes=2000), seed=2)
    normalised = task.normalise(np.array(out["episodes"]["returns"]))
    assert abs(normalised.mean()) < 4 * normalised.std() / np.sqrt(len(normalised))
    assert out["scores"]["episodes_to_solve"] is None


def test_online_runs_are_deterministic_and_seeds_differ():
    task = REGISTRY.make("FrozenLake4x4-v0")
    settings = OnlineSettings(num_episodes=50)
    a, b, c = (run_online(task, RANDOM, settings, seed=s) for s in (3, 3, 4))
    assert a == b and a != c


def test_streams_depend_on_every_part_of_the_run_key():
    base = ("d", "online", {"num_episodes": 5}, 0, ("env", "agent"))
    draw = lambda *key: [g.random() for g in make_streams(*key).values()]  # noqa: E731
    reference = draw(*base)
    assert reference == draw(*base) and reference[0] != reference[1]
    for i, changed in [(0, "e"), (1, "offline"), (2, {"num_episodes": 6}), (3, 1)]:
        key = list(base)
        key[i] = changed
        assert draw(*key) != reference


def test_offline_oracle_scores_one_and_random_zero():
    task, sub = oracle("FrozenLake4x4-v0")
    settings = OfflineSettings(dataset_episodes=(2, 4), epsilons=(1.0, 0.0))
    cells = run_offline(task, sub, settings, seed=0)["cells"]
    assert [c["normalised_value"] for c in cells] == pytest.approx([1.0] * 4)
    assert [(c["epsilon"], c["dataset_episodes"]) for c in cells] == [
        (1.0, 2), (1.0, 4), (0.0, 2), (0.0, 4)]
    out = run_offline(task, RANDOM, settings, seed=0)
    assert out["scores"]["offline_score"] == pytest.approx(0.0, abs=1e-12)


def test_datasets_are_nested_frozen_and_follow_the_behaviour():
    task = REGISTRY.make("RiverSwim6-v0")
    data = collect_dataset(task, behaviour_policy(task, 0.0), 40, np.random.default_rng(0))
    assert repr(data) == f"Dataset(num_episodes=40, num_transitions={len(data)})"
    assert len(data) == 40 * task.mdp.horizon
    with pytest.raises(ValueError, match="read-only"):
        data.states[0] = 1
    greedy = task.optimal_policy[data.step, data.states].argmax(axis=1)
    assert np.array_equal(data.actions, greedy), "epsilon = 0 follows the optimal policy"
    assert data.actions[data.step < 10].min() == 1, "swim right, far from the horizon"
    small = data.first(3)
    assert small.num_episodes == 3 and np.array_equal(small.states, data.states[:len(small)])
    assert np.all(small.episode < 3) and np.all(small.step == np.tile(np.arange(20), 3))


def test_dataset_transitions_are_consistent_with_the_model():
    task = REGISTRY.make("FrozenLake8x8-v0")
    m = task.mdp
    data = collect_dataset(task, behaviour_policy(task, 1.0), 200, np.random.default_rng(1))
    assert np.all(m.P[data.states, data.actions, data.next_states] > 0)
    assert np.array_equal(data.terminated, m.terminal[data.next_states])
    ends = np.flatnonzero(np.diff(data.episode)) if len(data) else []
    assert np.all(data.terminated[ends] | (data.step[ends] == m.horizon - 1))



def test_a_dataset_of_no_episodes_is_empty_and_well_typed():
    task = REGISTRY.make("FrozenLake4x4-v0")
    data = collect_dataset(task, behaviour_policy(task, 1.0), 0, np.random.default_rng(0))
    assert data.num_episodes == 0 and len(data) == 0
    assert data.states.dtype == np.int64 and data.rewards.dtype == np.float64
    assert data.terminated.dtype == bool and data.first(0).num_episodes == 0

INFO = TaskInfo(num_states=3, num_actions=2, horizon=4, discount=1.0, objective="finite",
                reward_range=(0.0, 1.0), reward_noise="deterministic", num_episodes=1)


@pytest.mark.parametrize("action, message", [
    (2, "outside range"), (-1, "outside range"), (1.0, "type float"), (True, "type bool"),
    ("0", "type str"), (None, "type NoneType")])
def test_bad_actions_are_agent_errors(action, message):
    with pytest.raises(AgentError, match=message):
        check_action(action, 2)
    assert check_action(np.int64(1), 2) == 1


@pytest.mark.parametrize("policy, message", [
    (np.full((3, 3), 1 / 3), r"shape \(3, 3\)"),
    (np.full((5, 3, 2), 0.5), r"shape \(5, 3, 2\)"),
    (np.array([[0.5, 0.5], [np.nan, 1], [1, 0]]), r"non-finite entry at index \(1, 0\)"),
    (np.array([[1.5, -0.5], [0, 1], [1, 0]]), r"negative probability at index \(0, 1\)"),
    (np.array([[0.5, 0.6], [0, 1], [1, 0]]), r"row \(0,\) sums to"),
    ("uniform", "not a numeric array"),
])
def test_bad_policies_are_agent_errors(policy, message):
    with pytest.raises(AgentError, match=message):
        check_policy(policy, INFO)
    assert check_policy(np.full((4, 3, 2), 0.5), INFO).shape == (4, 3, 2)


class InPlaceAgent:
    """Updates the policy array it returned in place: the harness must not be fooled."""

    def __init__(self, info, rng):
        self.pi = np.full((info.num_states, info.num_actions), 1 / info.num_actions)
        self.k = 0

    def act(self, state, step):
        return int(np.argmax(self.pi[state]))

    def observe(self, *transition):
        pass

    def end_episode(self):
        self.k += 1
        self.pi[:] = np.eye(self.pi.shape[1])[self.k % self.pi.shape[1]]

    def policy(self):
        return self.pi


def test_policy_values_follow_in_place_updates():
    task = REGISTRY.make("RiverSwim6-v0")
    sub = Submission(name="in-place", version="0", make_online_agent=InPlaceAgent)
    values = run_online(task, sub, OnlineSettings(num_episodes=4), seed=0)["episodes"][
        "policy_values"]
    expected = [task.policy_value(np.eye(2)[np.full(6, k % 2)]) for k in range(1, 5)]
    assert values == pytest.approx(expected) and values[0] != values[1]


def test_episodes_to_threshold_is_the_first_full_window_reaching_it():
    from rlbench_icl.protocols.online import episodes_to_threshold

    curve = np.array([0.0] * 5 + [1.0] * 20)
    # the window starting at episode 5 (1-based) holds one 0 and nine 1s: mean 0.9
    assert episodes_to_threshold(curve) == 5
    assert episodes_to_threshold(curve, threshold=0.95) == 6
    assert episodes_to_threshold(np.full(9, 1.0)) is None  # no full window
    assert episodes_to_threshold(np.full(40, 0.89)) is None
    assert episodes_to_threshold(curve, window=1) == 6
