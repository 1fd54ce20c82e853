"""The shipped foundation-model checkpoint and its submission."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rlbench_icl import OfflineSettings, OnlineSettings, TaskInfo, default_registry
from rlbench_icl.cpu import TORCH_VARIABLES, has_avx2
from rlbench_icl.discovery import resolve
from rlbench_icl.fm.policy import load_network
from rlbench_icl.fm.train import load_config, load_model
from rlbench_icl.protocols import run_offline, run_online
from rlbench_icl.protocols.offline import behaviour_policy, collect_dataset

CHECKPOINT = Path(__file__).resolve().parent.parent / "submissions" / "gnn_fm_checkpoint"
FM = resolve("gnn-fm")[1]

# SHA-256 prefixes of gnn-fm's outputs, recorded at 81f221c (release 6, before the code was
# restructured): a change that moves a policy by one bit fails here. PaperGrid3x3's online
# hash was re-recorded when discounted scores moved off LAPACK (solve_reproducibly): its
# policy values moved by one ulp (4.863874999999999 -> ...998); its returns and its offline
# policy are unchanged, and the LAPACK solve still gives the 81f221c hash 4ed5aaacf7afca64.
# It was re-recorded again when the harness's discounts moved off numpy's CPU-chosen powers
# (rlbench_icl/cpu.py): gamma ** t at t = 21 and 47 gained a last bit on AVX-512 CPUs, and so
# did the returns of episodes that long (acd9845707fd30ab before); its actions are unchanged.
RECORDED = {
    "FrozenLake4x4-v0": ("3bfbef138a4d7bdf", "c338fe140ca44f24"),
    "PaperGrid3x3-v0": ("57cbb500d83261ab", "7cabdda7d5d48768"),
    "RiverSwim6-v0": ("4f3069bd0a8dea2d", "ae293be0e2f63cc6"),
}


# The recorded bits hold where torch's kernels are pinned: x86-64 CPUs with AVX2 and FMA
# (rlbench_icl/cpu.py). Elsewhere (ARM, say) torch computes with other kernels, and the
# recorded hashes are not a claim this project makes.
pinned_cpus_only = pytest.mark.skipif(
    not has_avx2(), reason="the recorded bits are for x86-64 CPUs with AVX2 and FMA")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@pinned_cpus_only
@pytest.mark.parametrize("task_id", sorted(RECORDED))
def test_the_shipped_checkpoint_gives_the_recorded_policies(task_id):
    task = default_registry().make(task_id)
    dataset = collect_dataset(task, behaviour_policy(task, 0.5), 20, np.random.default_rng(1))
    policy = FM.solve_offline(TaskInfo.from_task(task), dataset, np.random.default_rng(2))
    online = run_online(task, FM, OnlineSettings(num_episodes=6), seed=3)
    offline_hash, online_hash = RECORDED[task_id]
    assert _sha(np.ascontiguousarray(policy, dtype=np.float64).tobytes()) == offline_hash
    assert _sha(json.dumps(online, sort_keys=True).encode()) == online_hash


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
    network = load_network(CHECKPOINT)
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


FM_RUN = """
import hashlib, json
from rlbench_icl import OnlineSettings, default_registry
from rlbench_icl.discovery import resolve
from rlbench_icl.protocols import run_online
task = default_registry().make("Garnet-v0-s20261130-i4")
out = run_online(task, resolve("gnn-fm")[1], OnlineSettings(num_episodes=500), seed=0)
print(hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()[:16])
"""


@pinned_cpus_only
def test_the_model_gives_the_same_bits_whatever_the_cpu():
    """torch picks kernels by CPU (MKL's, ATen's, oneDNN's). ``rlbench_icl.fm`` pins them
    (MKL's reproducible mode, ATen's AVX2 kernels, networks run without oneDNN;
    rlbench_icl/cpu.py), and the run gives the hash recorded with the pins. With torch's own
    choice on an AMD EPYC with AVX-512 (``RLBENCH_ICL_TORCH_KERNELS=native``) it gives
    c9ae14128fc7eb52. Re-recorded for release 6.1, which re-reads its experience less often
    (refresh ratio 4); release 6 gave ebb62dfd9363ccee pinned and 2e035adfa1fec087 native.
    Over 500 episodes the two releases' runs differ. The six-episode runs of ``RECORDED``
    do not: 6.1 skips readings there (on RiverSwim6 it reads 4 times, release 6 7 times,
    counted by wrapping ``InContextAgent._refresh``), and the outputs are the same bytes."""
    env = {k: v for k, v in os.environ.items() if k not in TORCH_VARIABLES}
    done = subprocess.run([sys.executable, "-c", FM_RUN], capture_output=True, text=True,
                          env={**env, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5a8e7fe60e1bd4cd"



@pytest.mark.parametrize("ratio, floor, reads", [
    (1.0, 0.0, [0, 1, 2, 3, 4]),
    (2.0, 0.0, [0, 1, 3, 4]),  # arm 0 at 1, 2, 4 visits; arm 1 first seen
    (2.0, 1.0, [1, 3]),  # arm 0 at 2 and 4; arm 1's single visit is not enough
    (3.0, 1.0, [2]),
    (4.0, 0.0, [0, 3, 4]),  # release 6.1's: arm 0 at 1 and 4 visits; arm 1 first seen
])
def test_online_agent_rereads_once_a_visit_count_grew_by_the_refresh_ratio(ratio, floor,
                                                                           reads):
    from rlbench_icl.fm.policy import InContextAgent, Reading

    info = TaskInfo.from_task(default_registry().make("Bandit10-v0"), 5)
    agent = InContextAgent(load_network(CHECKPOINT), info, np.random.default_rng(0),
                           Reading(bonus=1.0, range_scale=True), 0.1, refresh_ratio=ratio,
                           refresh_floor=floor)
    seen = []
    for episode, action in enumerate([0, 0, 0, 0, 1]):  # counts of arm 0: 1, 2, 3, 4
        before = agent.logits
        agent.observe(0, action, 1.0, 0, True)
        agent.end_episode()
        if agent.logits is not before:
            seen.append(episode)
    assert seen == reads
    with pytest.raises(ValueError, match="at least 1"):
        InContextAgent(agent.network, info, agent.rng, agent.reading, 0.1, refresh_ratio=0.5)
    with pytest.raises(ValueError, match="at least 0"):
        InContextAgent(agent.network, info, agent.rng, agent.reading, 0.1, refresh_floor=-1)


def test_the_shipped_online_agent_rereads_at_a_4_fold_growth_and_counts_first_visits():
    """Release 6.1's schedule, checked on any CPU (the recorded hashes need AVX2)."""
    info = TaskInfo.from_task(default_registry().make("Bandit10-v0"), 5)
    agent = FM.make_online_agent(info, np.random.default_rng(0))
    assert (agent.refresh_ratio, agent.refresh_floor) == (4.0, 0.0)
    assert FM.version.startswith("6.1+")
