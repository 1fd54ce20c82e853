"""gnn-fm: a graph-attention foundation model that acts in context on a new tabular MDP.

After Zighem & Vie (2026), "Reinforcement Learning Foundation Models Should Already Be A
Thing", arXiv 2606.18812. The network reads the experience statistic (visit counts, mean
rewards, empirical successors) and, per pair, the advantages of two exact plans of the
empirical model (an R-max plan and a pessimistic one), and outputs a policy, with no gradient
step on the task. It was pretrained only on synthetic MDPs, never on a benchmark task. The
model, prior, trainer and inference live in rlbench_icl/fm/; the checkpoint, its training
config, log and model card in gnn_fm_checkpoint/.

- Online: the network reads all experience so far with an R-max bonus beta = 1 (explore),
  rewards in units of at least the task's declared bound; the agent samples
  softmax(logits / 0.1) and offers its greedy policy at beta = 0 for exploitation. Since
  release 6.1 it re-reads its experience after an episode only once a pair visited since the
  last reading has at least 4 times its count then (a first visit always counts), as UCRL2's
  doubling epochs; release 6 re-read it after every episode. Same checkpoint.
- Offline: the dataset's statistic, with a lasting virtual trap on every pair (pessimism:
  rlbench_icl/fm/virtual.py), gives the greedy policy; on finite horizons one per step.

Every run records the SHA-256 of the weights in memory before and after it (frozen_state).
Every setting was chosen on synthetic tuning MDPs only (experiments/tune_fm.py, results in
experiments/tune_fm.md). The version names the checkpoint's hash.
"""

from pathlib import Path

import numpy as np

from rlbench_icl import Dataset, Submission, TaskInfo
from rlbench_icl.fm.policy import (
    InContextAgent,
    Reading,
    checkpoint_version,
    load_network,
    offline_policy,
    weights_hash,
)
from rlbench_icl.fm.virtual import VirtualOutcome

CHECKPOINT = Path(__file__).with_name("gnn_fm_checkpoint")
TEMPERATURE = 0.1
# Re-read when a visited pair's count has grown 4-fold: chosen by the twentieth attempt's rule
# on the synthetic suites and dev-task CPU costs (experiments/tune_fm.md).
REFRESH_RATIO = 4.0
ONLINE = Reading(bonus=1.0, range_scale=True)
# A lasting trap, as bad per step as the worst recurring reward seen, behind every pair.
OFFLINE = Reading(virtual=VirtualOutcome(1.0, "worst-recurring", lasting=True))


def make_online_agent(info: TaskInfo, rng: np.random.Generator) -> InContextAgent:
    return InContextAgent(load_network(CHECKPOINT), info, rng, ONLINE, TEMPERATURE,
                          refresh_ratio=REFRESH_RATIO)


def solve_offline(info: TaskInfo, dataset: Dataset, rng: np.random.Generator) -> np.ndarray:
    return offline_policy(load_network(CHECKPOINT), info, dataset, OFFLINE)


SUBMISSION = Submission(
    name="gnn-fm",
    version=checkpoint_version("6.1", CHECKPOINT),
    make_online_agent=make_online_agent,
    solve_offline=solve_offline,
    authors="rlbench-icl developers (after Zighem & Vie 2026)",
    files=("gnn_fm_checkpoint/model.safetensors", "gnn_fm_checkpoint/config.json"),
    frozen_state=lambda: weights_hash(load_network(CHECKPOINT)),
    description="Graph-attention foundation model pretrained on synthetic MDPs; in context.",
)
