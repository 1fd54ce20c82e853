"""Issue 23: the foundation model's inputs and rmax-plan from the observed transitions only.

The planner inputs (``rlbench_icl.fm.planning``), the virtual outcome, the successor lists
of ``featurize`` and rmax-plan read the statistic's observed keys, never an (S, A, S) array.
Checked here: the same bits from dense and sparse counts, the same bits as the dense
constructions they replace (kept here as the reference), a 20,000-state task planned and
featurized in memory far below S * A * S, and a forward pass cut in slices and passes."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse
import torch

from rlbench_icl import Dataset, ExperienceStatistic, TaskInfo, default_registry, experience
from rlbench_icl.discovery import resolve
from rlbench_icl.fm import features as fmf
from rlbench_icl.fm import planning
from rlbench_icl.fm import policy as fmp
from rlbench_icl.fm.context import ContextConfig, poisson_context, trajectory_context
from rlbench_icl.fm.features import FeatureConfig, featurize_steps
from rlbench_icl.fm.model import ModelConfig
from rlbench_icl.fm.train import build_model
from rlbench_icl.fm.virtual import VirtualOutcome, with_virtual_outcome
from rlbench_icl.protocols.offline import behaviour_policy, collect_dataset
from rlbench_icl.synthetic import WIDE_PRIOR, sample_mdp

REGISTRY = default_registry()
SHIPPED_KIND = FeatureConfig(plans=True, bonus=True, steps_left=True, tie_break=0.3)
OUTCOMES = [VirtualOutcome(1.0, "worst-recurring", lasting=True), VirtualOutcome(0.5, 2.0),
            VirtualOutcome(0.0, -1.0, lasting=True)]
PLAN = resolve("rmax-plan")[1]


def old_successor_lists(counts, n, cap):
    """``features._successor_lists`` before issue 23, verbatim: from the dense counts."""
    S, A, _ = counts.shape
    M = max(1, int((counts > 0).sum(axis=2).max()))
    if cap is not None:
        M = min(M, cap)
    order = np.argsort(-counts, axis=2, kind="stable")[..., :M]
    kept = np.take_along_axis(counts, order, axis=2)
    total = kept.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_probs = np.where(kept > 0, np.log(kept / np.maximum(total, 1.0)), -np.inf)
    unvisited = n == 0
    order[unvisited, 0] = np.nonzero(unvisited)[0]
    log_probs[unvisited, 0] = 0.0
    return order.astype(np.int64), log_probs


def old_limbo_model(counts, terminal_seen):
    """``planning._limbo_model`` before issue 23, verbatim: (S + 1, A, S + 1), dense."""
    S, A, _ = counts.shape
    n = counts.sum(axis=2)
    P = np.zeros((S + 1, A, S + 1))
    P[:S, :, :S] = counts / np.maximum(n, 1.0)[..., None]
    P[:S, :, S] = n == 0
    terminal = np.nonzero(terminal_seen)[0]
    P[terminal] = 0.0
    P[terminal, :, terminal] = 1.0
    P[S, :, S] = 1.0
    return P


def experience_of(task_id, num_episodes, seed, dense=None):
    """The statistic of uniform-random episodes, counted online one transition at a time."""
    task = REGISTRY.make(task_id)
    data = collect_dataset(task, behaviour_policy(task, 1.0), num_episodes,
                           np.random.default_rng(seed))
    stat = ExperienceStatistic(task.mdp.num_states, task.mdp.num_actions, dense=dense)
    for i in range(len(data)):
        stat.update(int(data.states[i]), int(data.actions[i]), float(data.rewards[i]),
                    int(data.next_states[i]), bool(data.terminated[i]))
    return TaskInfo.from_task(task, 10), stat


def assert_same_bits(mine, theirs):
    if isinstance(mine, (list, tuple)):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs, strict=True):
            assert_same_bits(a, b)
    elif isinstance(mine, np.ndarray):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        assert mine.tobytes() == theirs.tobytes()
    else:
        assert mine == theirs


def everything_read(stat, info):
    """What the network and rmax-plan read of a statistic, with and without the outcomes."""
    out = [planning.plans_by_step(stat, info, 0.3, info.reward_bound),
           planning.bonus_rewards(stat, 1.0, 7.0, 0.5)]
    for cap in (None, 2):
        for c in featurize_steps(stat, info, SHIPPED_KIND, [None, 1, info.horizon], bonus=0.5,
                                 scale_floor=0.2, max_successors=cap):
            out += [c.pair_features, c.state_features, c.global_features, c.successors,
                    c.successor_log_probs, c.reward_scale]
    for outcome in OUTCOMES:
        edited = with_virtual_outcome(stat, outcome, scale_floor=0.7)
        out += [*edited.sorted_counts(), edited.reward_sums, edited.reward_sq_sums,
                edited.terminal_seen, edited.max_abs_reward,
                planning.plans_by_step(edited, info, 0.3)]
    return out


@pytest.mark.parametrize("task_id", ["FrozenLake4x4-v0", "PaperGrid3x3-v0",
                                     "GarnetS100A6B10-v0", "DeepSea10-v0"])
def test_the_network_input_and_the_plans_are_the_same_bits_from_sparse_counts(
        task_id, monkeypatch):
    info, dense = experience_of(task_id, 20, seed=1)
    expected = everything_read(dense, info)
    monkeypatch.setattr(experience, "DENSE_MAX_BYTES", 0)  # the virtual statistics too
    info, sparse = experience_of(task_id, 20, seed=1)
    assert dense.dense and not sparse.dense
    assert_same_bits(everything_read(sparse, info), expected)


def test_successor_lists_and_the_model_equal_their_dense_construction():
    """Random online statistics and the training contexts (counts edited in bulk), with and
    without a cap: the padding, ties and unvisited pairs included."""
    rng = np.random.default_rng(0)
    stats = []
    for _ in range(4):
        mdp = sample_mdp(rng, WIDE_PRIOR)
        uniform = np.full((mdp.num_states, mdp.num_actions), 1 / mdp.num_actions)
        stats += [poisson_context(rng, mdp, ContextConfig()),
                  trajectory_context(rng, mdp, uniform, ContextConfig())]
    for S, A in ((5, 2), (70, 3)):
        stat = ExperienceStatistic(S, A)
        for _ in range(300):
            stat.update(int(rng.integers(S)), int(rng.integers(A)), 1.0,
                        int(rng.integers(min(S, 9))), bool(rng.random() < 0.05))
        stats.append(stat)
    for stat in stats:
        counts, n = stat.transition_counts, stat.visits
        for cap in (None, 1, 3):
            assert_same_bits(fmf._successor_lists(stat, n, cap),
                             old_successor_lists(counts, n, cap))
        S, A = stat.num_states, stat.num_actions
        dense = old_limbo_model(counts, stat.terminal_seen).reshape((S + 1) * A, S + 1)
        expected = scipy.sparse.csr_array(dense)  # as dynprog.flat_transitions made it
        model = planning._limbo_model(stat, n)
        for name in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(model, name), getattr(expected, name))
        assert_same_bits(model.toarray(), dense)


# ---- a 20,000-state task: nothing of size S x A x S ------------------------------------------

S_LARGE, A_LARGE = 20_000, 4
LARGE_INFO = TaskInfo(num_states=S_LARGE, num_actions=A_LARGE, horizon=10, discount=1.0,
                      objective="finite", reward_range=(0.0, 1.0), reward_noise="bernoulli",
                      num_episodes=5)


def large_transitions(num, seed=0):
    """(states, actions, rewards, next_states, terminated): walks on 3 random successors per
    pair; states 0..9 are terminal, a walk restarts after one."""
    rng = np.random.default_rng(seed)
    successors = rng.integers(S_LARGE, size=(S_LARGE, A_LARGE, 3))
    columns, state = [], 100
    for _ in range(num):
        action = int(rng.integers(A_LARGE))
        next_state = int(successors[state, action, rng.integers(3)])
        columns.append((state, action, float(rng.random() < 0.5), next_state, next_state < 10))
        state = int(rng.integers(10, S_LARGE)) if next_state < 10 else next_state
    return columns


def test_a_20000_state_task_is_planned_and_featurized_in_linear_memory():
    transitions = large_transitions(5000)
    agent = PLAN.make_online_agent(LARGE_INFO, np.random.default_rng(0))
    for t in transitions:
        agent.observe(*t)
    s, a, r, s2, done = (np.array(c) for c in zip(*transitions, strict=True))
    n = len(s)
    data = Dataset(s, a, r, s2, done, np.zeros(n, np.int64), np.arange(n), num_episodes=1)
    tracemalloc.start()
    try:
        agent.end_episode()  # rmax-plan's refresh: the R-max and pessimistic plans
        policy = PLAN.solve_offline(LARGE_INFO, data, np.random.default_rng(0))
        contexts = featurize_steps(agent.stat, LARGE_INFO, SHIPPED_KIND, [None, 3],
                                   scale_floor=1.0)
        trapped = with_virtual_outcome(agent.stat, OUTCOMES[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not agent.stat.dense and not trapped.dense
    assert policy.shape == (10, S_LARGE, A_LARGE)
    assert contexts[0].successors.shape[:2] == (S_LARGE, A_LARGE)
    untried = agent.stat.visits[200] == 0  # R-max tries an untried action first
    assert untried.any() and untried[agent.act(200, 0)]
    # (H, S, A) float arrays are 6.4 MB; one S x A x S array would be 12.8 GB
    assert peak < S_LARGE * A_LARGE * S_LARGE * 8 / 200


# ---- the forward pass in slices of states and in passes of contexts ------------------------

def test_slices_and_passes_leave_the_logits_alone(monkeypatch):
    network = build_model(ModelConfig(width=16, num_heads=2, num_rounds=3,
                                      features=SHIPPED_KIND), seed=0).eval()
    info, stat = experience_of("RiverSwim6-v0", 10, seed=2)
    reading = fmp.Reading(bonus=1.0, virtual=OUTCOMES[0])
    whole = (fmp.batched_logits(network, info, stat, reading, (1.0, 0.0)),
             fmp.step_logits(network, info, stat, reading))
    monkeypatch.setattr(fmp, "PASS_PAIRS", 1)  # one context per pass
    monkeypatch.setattr(fmp, "ATTENTION_NUMBERS", 0)  # in slices,
    monkeypatch.setattr(fmp, "SLICE_NUMBERS", 2 * 2 * 3 * 16)  # of a few states
    shapes, update = [], network.round._update
    monkeypatch.setattr(network.round, "_update", lambda *args: shapes.append(
        tuple(args[5].shape[:2])) or update(*args))
    cut = (fmp.batched_logits(network, info, stat, reading, (1.0, 0.0)),
           fmp.step_logits(network, info, stat, reading))
    assert {B for B, _ in shapes} == {1} and max(s for _, s in shapes) < info.num_states
    for mine, theirs in zip(cut[0] + [cut[1]], whole[0] + [whole[1]], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)
    batch = fmf.collate([fmf.featurize(stat, info, SHIPPED_KIND)])
    with torch.no_grad():  # the network on its own, in slices of one state
        torch.testing.assert_close(network(batch, state_chunk=1)[0], network(batch)[0],
                                   rtol=1e-6, atol=1e-6)
