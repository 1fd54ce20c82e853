"""In-context inference (rlbench_icl.fm.policy) on small networks trained for a few steps."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from rlbench_icl import (
    ExperienceStatistic,
    OfflineSettings,
    Submission,
    TaskInfo,
    default_registry,
)
from rlbench_icl.fm import policy as fmp
from rlbench_icl.fm.features import FeatureConfig, collate, featurize
from rlbench_icl.fm.model import ModelConfig
from rlbench_icl.fm.train import TrainConfig, train
from rlbench_icl.protocols import run_offline
from rlbench_icl.protocols.offline import behaviour_policy, collect_dataset

FEATURES = FeatureConfig(plans=True, bonus=True, steps_left=True, tie_break=0.3)


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """A small network of the shipped kind (plans, bonus, steps left), trained two steps."""
    out = tmp_path_factory.mktemp("net")
    model = ModelConfig(width=16, num_heads=2, num_rounds=2, features=FEATURES)
    config = TrainConfig(model=model, steps=2, batch_size=4, micro_batch=2, warmup_steps=1,
                         validation_mdps=4, validate_every=2)
    train(config, seed=0, out_dir=out, progress=False)
    return fmp.load_network(out)


def test_the_declared_unit_reads_rewards_in_the_task_bound(network):
    info = TaskInfo(num_states=3, num_actions=2, horizon=10, discount=1.0, objective="finite",
                    reward_range=(-3.0, 1.0), reward_noise="deterministic", num_episodes=5)
    assert info.reward_bound == 3.0
    stat = ExperienceStatistic(3, 2)
    for _ in range(4):  # a small reward found first; state 2 never seen
        stat.update(0, 0, 0.01, 1, False)
        stat.update(1, 0, 0.0, 0, False)
    with torch.no_grad():
        expected, _ = network(collate([featurize(stat, info, FEATURES, scale_floor=3.0)]))
    declared = fmp.policy_logits(network, info, stat, fmp.Reading(range_scale=True))
    np.testing.assert_allclose(declared, expected[0].numpy(), rtol=1e-6)
    assert not np.allclose(declared, fmp.policy_logits(network, info, stat))  # the seen unit


def test_offline_gives_one_policy_per_step_when_the_network_reads_steps_left(network,
                                                                             monkeypatch):
    monkeypatch.setattr(fmp, "STEP_BATCH", 3)  # batches that do not divide H
    task = default_registry().make("RiverSwim6-v0")
    info, rng = TaskInfo.from_task(task, 5), np.random.default_rng(0)
    dataset = collect_dataset(task, behaviour_policy(task, 1.0), 5, rng)
    policy = fmp.offline_policy(network, info, dataset)
    assert policy.shape == (info.horizon, info.num_states, info.num_actions)
    stat = ExperienceStatistic.from_dataset(dataset, info.num_states, info.num_actions)
    per_step = fmp.step_logits(network, info, stat)
    assert not np.allclose(per_step[0], per_step[-1])  # the steps left are read
    for t in (0, info.horizon // 2, info.horizon - 1):
        context = featurize(stat, info, FEATURES, steps_left=info.horizon - t)
        with torch.no_grad():
            logits = network(collate([context]))[0][0].numpy().astype(np.float64)
        np.testing.assert_allclose(per_step[t], logits, atol=1e-5)

    def solve(info, dataset, rng):
        return fmp.offline_policy(network, info, dataset)

    sub = Submission(name="steps", version="0", solve_offline=solve)
    out = run_offline(task, sub, OfflineSettings(dataset_episodes=(5,), epsilons=(0.5,)), 0)
    assert len(out["cells"]) == 1  # the harness takes the per-step policy


def test_a_network_without_steps_left_gives_one_stationary_policy(network):
    flat = dataclasses.replace(network.config, features=dataclasses.replace(
        FEATURES, steps_left=False))
    other = type(network)(flat).eval()
    task = default_registry().make("RiverSwim6-v0")
    info = TaskInfo.from_task(task)
    dataset = collect_dataset(task, behaviour_policy(task, 1.0), 3, np.random.default_rng(1))
    assert fmp.offline_policy(other, info, dataset).shape == (6, 2)


def test_the_online_agent_explores_with_the_bonus_and_exploits_without(network):
    info = TaskInfo.from_task(default_registry().make("RiverSwim6-v0"), 5)
    reading = fmp.Reading(bonus=1.0)
    agent = fmp.InContextAgent(network, info, np.random.default_rng(0), reading, 0.1)
    stat = ExperienceStatistic(6, 2)
    explore, exploit = fmp.batched_logits(network, info, stat, reading, (1.0, 0.0))
    np.testing.assert_array_equal(agent.logits, explore)
    np.testing.assert_array_equal(agent.exploit_logits, exploit)
    # read one at a time, the same up to float32 rounding: a batch of two may be summed in
    # another order than a batch of one, under any kernels
    np.testing.assert_allclose(explore, fmp.policy_logits(network, info, stat, reading),
                               rtol=1e-5)
    np.testing.assert_allclose(exploit, fmp.policy_logits(network, info, stat), rtol=1e-5)
    assert not np.allclose(explore, exploit, rtol=1e-3)  # the bonus is read
    assert agent.policy().shape == (6, 2) and 0 <= agent.act(0, 0) < 2


def test_per_step_policies_are_planned_every_step_near_the_end_then_geometrically():
    assert fmp.planned_steps(20) == list(range(1, 21))
    planned = fmp.planned_steps(200)
    assert planned[:32] == list(range(1, 33)) and planned[-1] == 200
    assert len(planned) == 43
    assert all(b / a < 1.22 for a, b in itertools.pairwise(planned[31:]))
    assert fmp.planned_steps(1) == [1]
    planned, serves = fmp.step_plan(200)
    for t, i in enumerate(serves):  # the next planned value at or above the steps left
        assert planned[i] >= 200 - t and (i == 0 or planned[i - 1] < 200 - t)


def test_a_missing_checkpoint_says_how_to_train_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-fm"):
        fmp.load_network(tmp_path)
    assert fmp.checkpoint_version("7", tmp_path) == "7+untrained"


def test_the_weights_hash_sees_any_change_to_the_weights():
    from rlbench_icl.fm.train import build_model

    config = ModelConfig(width=16, num_heads=2, num_rounds=2)
    network = build_model(config, seed=0)
    first = fmp.weights_hash(network)
    assert first == fmp.weights_hash(build_model(config, seed=0))
    with torch.no_grad():
        next(network.parameters()).view(-1)[0] += 1e-7
    assert fmp.weights_hash(network) != first
