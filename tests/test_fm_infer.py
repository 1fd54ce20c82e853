"""The models' inference path (``PolicyNetwork.infer``) gives ``forward``'s logits bit for bit:
on the shipped checkpoints, on statistics of real tasks, under the kernels this process runs
(pinned by default; ``benchmarks/fm_inference_speed.py`` also checks whole online runs)."""

import numpy as np
import pytest
import torch

from rlbench_icl import ExperienceStatistic, TaskInfo, default_registry
from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.fm import model
from rlbench_icl.fm.features import collate, featurize, featurize_steps, with_bonus
from rlbench_icl.fm.model import NAIVE_BMM, ModelConfig, PolicyNetwork, pinned_kernels
from rlbench_icl.fm.policy import load_network
from rlbench_icl.protocols.offline import behaviour_policy, collect_dataset

CHECKPOINTS = ("gnn_fm_checkpoint", "gnn_fm_paper_checkpoint")
TASKS = ("RiverSwim6-v0", "GarnetS20A3B2-v0", "GarnetS100A6B10-v0", "FrozenLake4x4-v0")


def random_statistic(task_id: str, episodes: int, seed: int = 0):
    """The statistic of ``episodes`` uniformly random episodes of a task, and its info."""
    task = default_registry().make(task_id)
    info = TaskInfo.from_task(task, 100)
    data = collect_dataset(task, behaviour_policy(task, 1.0), episodes,
                           np.random.default_rng(seed))
    return ExperienceStatistic.from_dataset(data, info.num_states, info.num_actions), info


def batch_of(network, stat, info, bonuses=(1.0, 0.0)):
    context = featurize(stat, info, network.config.features, scale_floor=info.reward_bound)
    return collate([with_bonus(context, b) for b in bonuses])


def both(network, batch, state_chunk=None, num_rounds=None):
    with pinned_kernels():
        with torch.no_grad():
            reference = network(batch, num_rounds=num_rounds, state_chunk=state_chunk)[0]
        return reference, network.infer(batch, num_rounds=num_rounds, state_chunk=state_chunk)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal bytes: torch.equal would call -0.0 and 0.0 equal."""
    return a.dtype == b.dtype and a.shape == b.shape and (
        a.numpy().tobytes() == b.numpy().tobytes())


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
@pytest.mark.parametrize("task_id, episodes", [(t, k) for t in TASKS for k in (0, 1, 30)])
def test_infer_gives_forwards_bits(checkpoint, task_id, episodes):
    network = load_network(SUBMISSIONS_DIR / checkpoint)
    stat, info = random_statistic(task_id, episodes)
    batch = batch_of(network, stat, info)
    dh = network.config.width // network.config.num_heads
    assert dh * batch.successors.shape[-1] < NAIVE_BMM  # the fast path, not the fallback
    for rounds in (None, 24):  # the training count, and gnn-fm-paper's at inference
        reference, fast = both(network, batch, num_rounds=rounds)
        assert same_bits(reference, fast)
    assert torch.isfinite(fast).any()


def test_infer_gives_forwards_bits_for_a_batch_of_per_step_contexts():
    """The offline solve of a finite-horizon task: eight steps-left values in one pass."""
    network = load_network(SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    stat, info = random_statistic("FrozenLake4x4-v0", 40)
    contexts = featurize_steps(stat, info, network.config.features, [1, 2, 3, 5, 8, 13, 21, 34],
                               scale_floor=info.reward_bound)
    batch = collate(contexts)
    dh = network.config.width // network.config.num_heads
    assert dh * batch.successors.shape[-1] < NAIVE_BMM  # the fast path
    reference, fast = both(network, batch)
    assert same_bits(reference, fast)


def test_infer_falls_back_to_forward_where_its_path_is_not_exact(monkeypatch):
    """Slices of states, attention products above bmm's plain loop, dropout in training
    mode: ``forward`` itself (the fast path, made to fail here, is not taken)."""
    def not_taken(*args):
        raise AssertionError("the fast path was taken")

    network = load_network(SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    stat, info = random_statistic("GarnetS100A6B10-v0", 30)
    batch = batch_of(network, stat, info)
    monkeypatch.setattr(model, "_fast_logits", not_taken)
    reference, fast = both(network, batch, state_chunk=7)
    assert same_bits(reference, fast)
    wide = PolicyNetwork(ModelConfig(width=256, num_heads=1, features=network.config.features))
    wide.eval()
    assert 256 * batch.successors.shape[-1] >= NAIVE_BMM
    reference, fast = both(wide, batch)
    assert same_bits(reference, fast)
    network.round.pair_mlp.train()  # one module left in training mode
    try:
        with pinned_kernels():
            network.infer(batch)
    finally:
        network.round.pair_mlp.eval()  # load_network's networks are shared


def test_infer_builds_no_autograd_graph():
    network = load_network(SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    stat, info = random_statistic("RiverSwim6-v0", 5)
    batch = batch_of(network, stat, info)
    with pinned_kernels():
        assert not network.infer(batch).requires_grad


def test_the_latency_benchmark_reads_each_network_as_its_submission_does(monkeypatch):
    """benchmarks/bench_fm.py times the readings the submissions' files declare: gnn-fm's
    two-policy online batch and its offline trap, gnn-fm-paper's one policy at 24 rounds."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_fm.py"
    spec = importlib.util.spec_from_file_location("bench_fm_script", path)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclass looks itself up there
    spec.loader.exec_module(bench)
    fm, paper = bench.submission_readings("gnn-fm"), bench.submission_readings("gnn-fm-paper")
    assert fm.bonuses == (1.0, 0.0) and fm.offline.virtual is not None
    assert fm.checkpoint.name == "gnn_fm_checkpoint"
    assert paper.bonuses == (0.0,) and paper.online.rounds == paper.offline.rounds == 24
    assert paper.offline.virtual is None and paper.checkpoint.name == "gnn_fm_paper_checkpoint"
