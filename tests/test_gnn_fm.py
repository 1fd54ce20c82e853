"""The shipped foundation-model checkpoint and its submission."""

import itertools
import json
from pathlib import Path

import numpy as np
import torch

from rlbench_icl import OfflineSettings, OnlineSettings, Submission, default_registry
from rlbench_icl.discovery import resolve
from rlbench_icl.fm.train import load_config, load_model
from rlbench_icl.protocols import run_offline, run_online

CHECKPOINT = Path(__file__).resolve().parent.parent / "submissions" / "gnn_fm_checkpoint"
FM = resolve("gnn-fm")[1]


def test_checkpoint_is_small_safe_and_matches_its_config():
    assert (CHECKPOINT / "model.safetensors").stat().st_size < 2_000_000
    model, config = load_model(CHECKPOINT)
    assert config == load_config(CHECKPOINT / "train.toml")
    assert json.loads((CHECKPOINT / "config.json").read_text())["seed"] == 0
    lines = (CHECKPOINT / "train_log.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == config.steps
    assert sum(p.numel() for p in model.parameters()) < 1_000_000


def test_beats_random_offline_on_a_quick_task():
    task = default_registry().make("RiverSwim6-v0")
    settings = OfflineSettings(dataset_episodes=(50,), epsilons=(0.1,))
    value = run_offline(task, FM, settings, seed=0)["cells"][0]["normalised_value"]
    assert value > 0.5  # random scores 0


def test_online_run_leaves_the_weights_unchanged():
    network = _network()
    before = {k: v.clone() for k, v in network.state_dict().items()}
    task = default_registry().make("FrozenLake4x4-v0")
    out = run_online(task, FM, OnlineSettings(num_episodes=5), seed=0)
    assert len(out["episodes"]["policy_values"]) == 5
    after = network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_online_learning_beats_random_on_a_quick_task():
    task = default_registry().make("Bandit10-v0")
    out = run_online(task, FM, OnlineSettings(num_episodes=20), seed=0)
    curve = task.normalise(np.array(out["episodes"]["policy_values"]))
    assert curve[-10:].mean() > 0.5  # random scores 0


def _network():
    from rlbench_icl.discovery import _import_file, available

    path = Path(available()["gnn-fm"].split("::")[0])
    return _import_file(path).load_network()


def test_range_scale_reads_rewards_in_the_declared_unit():
    from rlbench_icl import ExperienceStatistic, TaskInfo
    from rlbench_icl.discovery import _import_file, available
    from rlbench_icl.fm.features import collate, featurize

    gnn_fm = _import_file(Path(available()["gnn-fm"].split("::")[0]))
    info = TaskInfo(num_states=3, num_actions=2, horizon=10, discount=1.0, objective="finite",
                    reward_range=(-3.0, 1.0), reward_noise="deterministic", num_episodes=5)
    assert info.reward_bound == 3.0
    stat = ExperienceStatistic(3, 2)
    for _ in range(4):  # a small reward found first; state 2 never seen
        stat.update(0, 0, 0.01, 1, False)
        stat.update(1, 0, 0.0, 0, False)
    network = gnn_fm.load_network()
    with torch.no_grad():
        expected, _ = network(collate([featurize(stat, 10, 1.0, scale_floor=3.0,
                                                 **network.config.inputs())]))
    declared = gnn_fm.policy_logits(info, stat, range_scale=True)
    np.testing.assert_allclose(declared, expected[0].numpy(), rtol=1e-6)
    assert not np.allclose(declared, gnn_fm.policy_logits(info, stat))  # the seen unit
    agent = gnn_fm.FoundationModelAgent(info, np.random.default_rng(0))
    assert agent.range_scale is gnn_fm.ONLINE_RANGE_SCALE is True


def test_a_network_that_reads_steps_left_solves_offline_one_policy_per_step(tmp_path,
                                                                             monkeypatch):
    import dataclasses

    from rlbench_icl import ExperienceStatistic, TaskInfo
    from rlbench_icl.discovery import _import_file, available
    from rlbench_icl.fm.features import collate, featurize
    from rlbench_icl.fm.train import train

    gnn_fm = _import_file(Path(available()["gnn-fm"].split("::")[0]))
    shipped = load_config(CHECKPOINT / "train.toml")
    model = dataclasses.replace(shipped.model, width=16, num_heads=2, num_rounds=2,
                                steps_left_input=True, tie_break=0.3)
    config = dataclasses.replace(shipped, model=model, steps=2, batch_size=4, micro_batch=2,
                                 warmup_steps=1, validation_mdps=4, validate_every=2)
    train(config, seed=0, out_dir=tmp_path, progress=False)
    monkeypatch.setattr(gnn_fm, "CHECKPOINT", tmp_path)
    monkeypatch.setattr(gnn_fm, "STEP_BATCH", 3)  # batches that do not divide H
    task = default_registry().make("RiverSwim6-v0")
    info = TaskInfo.from_task(task, 5)
    rng = np.random.default_rng(0)
    dataset = _random_dataset(task, rng)
    policy = gnn_fm.solve_offline(info, dataset, rng, pessimism=None)
    assert policy.shape == (info.horizon, info.num_states, info.num_actions)
    stat = ExperienceStatistic.from_dataset(dataset, info.num_states, info.num_actions)
    network = gnn_fm.load_network()
    per_step = gnn_fm.step_logits(info, stat)
    assert not np.allclose(per_step[0], per_step[-1])  # the steps left are read
    for t in (0, info.horizon // 2, info.horizon - 1):
        context = featurize(stat, info.horizon, info.discount, steps_left=info.horizon - t,
                            **network.config.inputs())
        with torch.no_grad():
            logits = network(collate([context]))[0][0].numpy().astype(np.float64)
        np.testing.assert_allclose(per_step[t], logits, atol=1e-5)
    sub = Submission(name="steps", version="0", solve_offline=gnn_fm.solve_offline)
    out = run_offline(task, sub, OfflineSettings(dataset_episodes=(5,), epsilons=(0.5,)), 0)
    assert len(out["cells"]) == 1  # the harness takes the per-step policy


def _random_dataset(task, rng):
    from rlbench_icl.protocols.offline import behaviour_policy, collect_dataset

    return collect_dataset(task, behaviour_policy(task, 1.0), 5, rng)


def test_per_step_policies_are_planned_every_step_near_the_end_then_geometrically():
    from rlbench_icl.discovery import _import_file, available

    gnn_fm = _import_file(Path(available()["gnn-fm"].split("::")[0]))
    assert gnn_fm.planned_steps(20) == list(range(1, 21))
    planned = gnn_fm.planned_steps(200)
    assert planned[:32] == list(range(1, 33)) and planned[-1] == 200
    assert len(planned) == 43
    assert all(b / a < 1.22 for a, b in itertools.pairwise(planned[31:]))
    assert gnn_fm.planned_steps(1) == [1]
