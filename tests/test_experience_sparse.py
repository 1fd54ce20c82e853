"""Issue 23: the experience statistic's sparse counts against the dense implementation it
replaces (kept here as the reference), the reference agents unchanged by the storage, and
agents planning on a 20,000-state task without an S x S array."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse

from rlbench_icl import (
    Dataset,
    OfflineSettings,
    OnlineSettings,
    backward_induction,
    default_registry,
    experience,
)
from rlbench_icl.discovery import resolve
from rlbench_icl.experience import ExperienceStatistic
from rlbench_icl.protocols import run_offline, run_online


class DenseReference:
    """The statistic before issue 23, verbatim: dense (S, A, S) counts."""

    def __init__(self, num_states, num_actions):
        self.num_states, self.num_actions = num_states, num_actions
        self.transition_counts = np.zeros((num_states, num_actions, num_states))
        self.reward_sums = np.zeros((num_states, num_actions))
        self.reward_sq_sums = np.zeros((num_states, num_actions))
        self.terminal_seen = np.zeros(num_states, dtype=bool)
        self.max_abs_reward = 0.0
        self._key_rows, self._key_cols = [], []

    @classmethod
    def from_dataset(cls, dataset, num_states, num_actions):
        stat = cls(num_states, num_actions)
        np.add.at(stat.transition_counts, (dataset.states, dataset.actions,
                                           dataset.next_states), 1.0)
        np.add.at(stat.reward_sums, (dataset.states, dataset.actions), dataset.rewards)
        np.add.at(stat.reward_sq_sums, (dataset.states, dataset.actions), dataset.rewards ** 2)
        stat.terminal_seen[dataset.next_states[dataset.terminated]] = True
        stat.rebuild_keys()
        if len(dataset):
            stat.max_abs_reward = float(np.abs(dataset.rewards).max())
        return stat

    def update(self, state, action, reward, next_state, terminated):
        if self.transition_counts[state, action, next_state] == 0:
            self._key_rows.append(state * self.num_actions + action)
            self._key_cols.append(next_state)
        self.transition_counts[state, action, next_state] += 1.0
        self.reward_sums[state, action] += reward
        self.reward_sq_sums[state, action] += reward * reward
        if terminated:
            self.terminal_seen[next_state] = True
        self.max_abs_reward = max(self.max_abs_reward, abs(reward))

    def rebuild_keys(self):
        S, A = self.num_states, self.num_actions
        rows, cols = np.nonzero(self.transition_counts.reshape(S * A, S))
        self._key_rows, self._key_cols = rows.tolist(), cols.tolist()

    def observed_keys(self):
        return (np.array(self._key_rows, dtype=np.int64),
                np.array(self._key_cols, dtype=np.int64))

    @property
    def visits(self):
        return self.transition_counts.sum(axis=2)

    def empirical_model(self):
        n = self.visits
        S = self.num_states
        safe = np.maximum(n, 1.0)
        P_hat = self.transition_counts / safe[..., None]
        unvisited = n == 0
        P_hat[unvisited] = np.eye(S)[np.nonzero(unvisited)[0]]
        R_hat = self.reward_sums / safe
        terminal = np.flatnonzero(self.terminal_seen)
        P_hat[terminal] = 0.0
        P_hat[terminal, :, terminal] = 1.0
        R_hat[terminal] = 0.0
        return P_hat, R_hat, n


def random_stream(seed, S, A, steps):
    """Transitions from a few successors per pair, some terminal, signed rewards."""
    rng = np.random.default_rng(seed)
    successors = rng.integers(S, size=(S, A, 3))
    terminal = rng.random(S) < 0.15
    state = 0
    for _ in range(steps):
        action = int(rng.integers(A))
        next_state = int(successors[state, action, rng.integers(3)])
        yield state, action, float(rng.normal()), next_state, bool(terminal[next_state])
        state = int(rng.integers(S)) if terminal[next_state] else next_state


def as_dataset(transitions):
    columns = list(zip(*transitions, strict=True))
    dtypes = (np.int64, np.int64, np.float64, np.int64, bool)
    s, a, r, s2, done = (np.array(c, dtype=d) for c, d in zip(columns, dtypes, strict=True))
    n = len(s)
    return Dataset(s, a, r, s2, done, np.zeros(n, np.int64), np.arange(n), num_episodes=1)


def assert_same(stat, ref):
    S, A = ref.num_states, ref.num_actions
    for name in ("reward_sums", "reward_sq_sums", "terminal_seen", "visits"):
        np.testing.assert_array_equal(getattr(stat, name), getattr(ref, name), err_msg=name)
    assert stat.max_abs_reward == ref.max_abs_reward
    rows, cols = ref.observed_keys()
    for mine, theirs in zip(stat.observed_keys(), (rows, cols), strict=True):
        np.testing.assert_array_equal(mine, theirs)  # same keys, same order
    counts = ref.transition_counts.reshape(S * A, S)[rows, cols]
    np.testing.assert_array_equal(stat.observed_counts()[2], counts)
    P_ref, R_ref, n_ref = ref.empirical_model()
    P, R, n = stat.sparse_empirical_model()
    expected = scipy.sparse.csr_array(P_ref.reshape(S * A, S))
    np.testing.assert_array_equal(P.indptr, expected.indptr)
    np.testing.assert_array_equal(P.indices, expected.indices)
    np.testing.assert_array_equal(P.data, expected.data)
    np.testing.assert_array_equal(R, R_ref)
    np.testing.assert_array_equal(n, n_ref)
    for mine, theirs in zip(stat.empirical_model(), (P_ref, R_ref, n_ref), strict=True):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_online_updates_equal_the_dense_reference(seed, dense):
    S, A = 9, 3
    stat, ref = ExperienceStatistic(S, A, dense=dense), DenseReference(S, A)
    for transition in random_stream(seed, S, A, 300):
        stat.update(*transition)
        ref.update(*transition)
    assert stat.dense is dense
    assert_same(stat, ref)
    np.testing.assert_array_equal(stat.transition_counts, ref.transition_counts)


@pytest.mark.parametrize("dense", [True, False])
def test_dataset_statistic_equals_the_dense_reference_then_keeps_counting(dense):
    S, A = 12, 4
    transitions = list(random_stream(3, S, A, 500))
    data = as_dataset(transitions[:400])
    stat = ExperienceStatistic.from_dataset(data, S, A, dense=dense)
    ref = DenseReference.from_dataset(data, S, A)
    assert_same(stat, ref)  # keys in row-major order
    for transition in transitions[400:]:  # new keys are appended after the sorted ones
        stat.update(*transition)
        ref.update(*transition)
    assert_same(stat, ref)


def test_rebuild_keys_of_a_sparse_statistic_sorts_them_as_the_dense_one():
    S, A = 10, 2
    stat, ref = ExperienceStatistic(S, A, dense=False), DenseReference(S, A)
    for transition in random_stream(4, S, A, 200):
        stat.update(*transition)
        ref.update(*transition)
    stat.rebuild_keys()
    ref.rebuild_keys()
    assert_same(stat, ref)


def test_reading_transition_counts_makes_a_small_sparse_statistic_dense():
    S, A = 8, 2
    stat, ref = ExperienceStatistic(S, A, dense=False), DenseReference(S, A)
    stream = list(random_stream(5, S, A, 200))
    for transition in stream[:100]:
        stat.update(*transition)
        ref.update(*transition)
    stat.transition_counts[0, 0, 0] += 0.0  # a writable view, as the fm code edits it
    assert stat.dense
    for transition in stream[100:]:
        stat.update(*transition)
        ref.update(*transition)
    assert_same(stat, ref)


def test_storage_is_dense_on_every_registered_size_and_sparse_beyond():
    assert ExperienceStatistic(500, 6).dense  # Taxi, the largest registered task
    assert ExperienceStatistic(1448, 4).dense and not ExperienceStatistic(1449, 4).dense
    big = ExperienceStatistic(100_000, 4)
    big.update(5, 1, 1.0, 7, False)
    with pytest.raises(ValueError, match=r"S = 100000 .* A = 4 .*320,000,000,000 bytes.*"
                                         r"observed_counts\(\)"):
        big.transition_counts  # noqa: B018 -- reading it is what fails
    assert big.visits[5, 1] == 1.0 and big.visits.sum() == 1.0
    P, R, n = big.sparse_empirical_model()
    assert P.shape == (400_000, 100_000) and P.nnz == 400_000 and P[21, 7] == 1.0


# ---- the agents do the same with either storage --------------------------------------------

REGISTRY = default_registry()
TASKS = ["FrozenLake4x4-v0", "GarnetS100A6B10-v0", "Taxi-v0"]


def forced_sparse_equals_default(monkeypatch, run):
    default = run()
    monkeypatch.setattr(experience, "DENSE_MAX_BYTES", 0)
    assert run() == default


@pytest.mark.parametrize("name", ["ucbvi", "ucbvi-bernstein", "ucbvi-paper", "psrl",
                                  "rmax-plan", "plugin-online"])
def test_online_agents_are_unchanged_by_sparse_counts(name, monkeypatch):
    for task_id in TASKS:
        task = REGISTRY.make(task_id)
        settings = OnlineSettings(5 if task_id == "Taxi-v0" else 20)
        forced_sparse_equals_default(
            monkeypatch, lambda t=task, s=settings: run_online(t, resolve(name)[1], s, seed=4))
        monkeypatch.undo()


@pytest.mark.parametrize("name", ["vi-lcb", "vi-lcb-bernstein", "vi-lcb-paper", "plugin",
                                  "rmax-plan"])
def test_offline_agents_are_unchanged_by_sparse_counts(name, monkeypatch):
    settings = OfflineSettings(dataset_episodes=(5, 40), epsilons=(1.0, 0.1))
    for task_id in TASKS:
        task = REGISTRY.make(task_id)
        forced_sparse_equals_default(
            monkeypatch, lambda t=task: run_offline(t, resolve(name)[1], settings, seed=4))
        monkeypatch.undo()


# ---- a 20,000-state statistic: nothing of size S x S -----------------------------------------

def test_a_20000_state_statistic_and_its_model_stay_linear_in_the_transitions():
    S, A, H = 20_000, 3, 20
    rng = np.random.default_rng(0)
    successors = rng.integers(S, size=(S, A, 3))

    def count_and_plan():
        stat, state = ExperienceStatistic(S, A), 0
        for _ in range(2000):
            action = int(rng.integers(A))
            next_state = int(successors[state, action, rng.integers(3)])
            stat.update(state, action, 1.0, next_state, False)
            state = next_state
        P, R, n = stat.sparse_empirical_model()
        return stat, backward_induction(P, R, H)[0], n

    tracemalloc.start()
    try:
        stat, Q, n = count_and_plan()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not stat.dense and n.sum() == 2000 and Q.shape == (H, S, A)
    assert peak < 3 * Q.nbytes  # Q (H, S, A) is 9.6 MB; one S x S array would be 3.2 GB
