"""Foundation-model speed of a trained network, read as a reference submission reads it
(``--submission``: gnn-fm, the default, or gnn-fm-paper; its shipped checkpoint unless
``--checkpoint`` names other weights), in one run:

1. latency of one policy refresh at S = 16, 64, 500: featurizing the statistic (including the
   exact plans the network reads, if it reads them), the forward pass with the sparse
   successor attention, and, as the named alternative, the same forward pass with dense
   attention over all S states (every pair attends to every state, as in a dense transformer
   layer), each with the submission's propagation rounds; the online agent's refresh and
   the offline solve are the library calls its agents make (``batched_logits`` on a batch
   of two, exploring and exploiting bonus, for gnn-fm; ``policy_logits`` for gnn-fm-paper;
   the offline solve with the submission's offline reading: for gnn-fm its virtual trap,
   one extra state), on the inference path (``PolicyNetwork.infer``);
2. for a network that reads the steps left, the offline solve of a finite-horizon task with
   one policy per step (``step_logits``: one forward pass per planned step, in batches of
   ``STEP_BATCH``), against the named alternatives one pass per step (batches of 1) and the
   one-policy solve;
3. training throughput (synthetic MDPs per second) with the network's training config.

Everything comes from the fm library (``rlbench_icl.fm.policy``), with the checkpoint as an
argument.

Usage: python benchmarks/bench_fm.py [--repeats N] [--submission gnn-fm-paper] [--checkpoint DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

from rlbench_icl import ExperienceStatistic, TaskInfo
from rlbench_icl.discovery import SUBMISSIONS_DIR, _import_file
from rlbench_icl.fm.features import collate, featurize, featurize_steps, with_bonus
from rlbench_icl.fm.model import PolicyNetwork, pinned_kernels
from rlbench_icl.fm.policy import (
    STEP_BATCH,
    Reading,
    batched_logits,
    load_network,
    policy_logits,
    step_logits,
    step_plan,
)
from rlbench_icl.fm.train import TrainConfig, load_model, train
from rlbench_icl.fm.virtual import with_virtual_outcome

HORIZON = 100
SIZES = [(16, 4, 3), (64, 4, 3), (500, 6, 2)]  # (S, A, successors per pair), Taxi-like last
READINGS = {  # submission: (its file, the names of its online and offline readings there)
    "gnn-fm": ("gnn_fm.py", "ONLINE", "OFFLINE"),
    "gnn-fm-paper": ("gnn_fm_paper.py", "READING", "READING"),
}


@dataclasses.dataclass(frozen=True)
class Readings:
    """How a submission asks its network: online (its exploring and, if that has a bonus,
    its exploiting policy in one batch) and offline; and its shipped checkpoint."""

    online: Reading
    offline: Reading
    checkpoint: Path

    @property
    def bonuses(self) -> tuple[float, ...]:
        return (0.0,) if self.online.bonus == 0.0 else (self.online.bonus, 0.0)


def submission_readings(name: str) -> Readings:
    """The readings and checkpoint a reference FM submission's file declares."""
    file, online, offline = READINGS[name]
    module = _import_file(SUBMISSIONS_DIR / file)  # as tuning.refresh_variant loads one
    return Readings(getattr(module, online), getattr(module, offline), module.CHECKPOINT)


def statistic(rng, S, A, successors) -> ExperienceStatistic:
    stat = ExperienceStatistic(S, A)
    for s in range(S):
        for a in range(A):
            nxt = rng.choice(S, size=successors, replace=False)
            stat.transition_counts[s, a, nxt] = rng.integers(1, 20, size=successors)
    stat.reward_sums = rng.normal(size=(S, A))
    stat.max_abs_reward = 1.0
    return stat


def dense(context):
    """The same input with every state as a successor (zero-probability ones at -inf)."""
    S, A, _ = context.successors.shape
    log_probs = np.full((S, A, S), -np.inf, np.float32)
    np.put_along_axis(log_probs, context.successors, context.successor_log_probs, axis=2)
    context.successors = np.broadcast_to(np.arange(S), (S, A, S)).copy()
    context.successor_log_probs = log_probs
    return context


def best_time(function, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def forward(network: PolicyNetwork, contexts, rounds: int | None = None) -> torch.Tensor:
    with torch.no_grad(), pinned_kernels():  # as the agents run it
        return network(collate(contexts), num_rounds=rounds)[0]


def info_for(stat) -> TaskInfo:
    return TaskInfo(stat.num_states, stat.num_actions, HORIZON, 1.0, "finite", (-1.0, 1.0),
                    "gaussian", 0)


def refresh_times(network: PolicyNetwork, stat, readings: Readings,
                  repeats: int) -> list[float]:
    """Seconds to featurize, forward one context, forward two, forward one densely, the
    online agent's refresh and the one-policy offline solve."""
    info, features, rounds = info_for(stat), network.config.features, readings.online.rounds
    context = featurize(stat, info, features)
    dense_context = dense(featurize(stat, info, features))
    pair = [context, with_bonus(context, 0.0)]
    return [best_time(lambda: featurize(stat, info, features), repeats),
            best_time(lambda: forward(network, [context], rounds), repeats),
            best_time(lambda: forward(network, pair, rounds), repeats),
            best_time(lambda: forward(network, [dense_context], rounds), repeats),
            best_time(lambda: batched_logits(network, info, stat, readings.online,
                                             readings.bonuses), repeats),
            best_time(lambda: policy_logits(network, info, stat, readings.offline), repeats)]


def step_logits_one_by_one(network: PolicyNetwork, info: TaskInfo, stat,
                           reading: Reading) -> np.ndarray:
    """The named alternative to ``step_logits``: the same contexts, one forward pass each."""
    edited = with_virtual_outcome(stat, reading.virtual) if reading.virtual else stat
    planned, serves = step_plan(info.horizon)
    contexts = featurize_steps(edited, info, network.config.features, planned)
    logits = [forward(network, [c], reading.rounds)[0, :info.num_states].numpy()
              .astype(np.float64) for c in contexts]
    return np.stack(logits)[serves]


def step_solve_times(network: PolicyNetwork, stat, reading: Reading,
                     repeats: int) -> list[float]:
    """Seconds of the per-step logits in batches of ``STEP_BATCH`` and of 1."""
    info = info_for(stat)
    return [best_time(lambda: step_logits(network, info, stat, reading), repeats),
            best_time(lambda: step_logits_one_by_one(network, info, stat, reading), repeats)]


def training_rate(config: TrainConfig, steps: int = 5) -> tuple[float, float]:
    """(MDPs per second, seconds per step) of ``steps`` training steps from scratch, one
    thread (a throwaway run of ``train``; its one validation MDP is drawn before timing)."""
    config = dataclasses.replace(config, validation_mdps=1, threads=1)
    with tempfile.TemporaryDirectory() as out:
        train(config, 0, out, progress=False, stop_after=1)  # build, validation set, step 0
        start = time.perf_counter()
        train(config, 0, out, progress=False, stop_after=steps)
        seconds = time.perf_counter() - start
    return steps * config.batch_size / seconds, seconds / steps


def latency_tables(network: PolicyNetwork, readings: Readings,
                   repeats: int) -> tuple[list, list]:
    """Rows of the refresh table and of the per-step offline table (empty if the network
    gives one policy for every step)."""
    rng = np.random.default_rng(0)
    rows, step_rows = [], []
    for S, A, k in SIZES:
        stat = statistic(rng, S, A, k)
        times = refresh_times(network, stat, readings, repeats)
        rows.append([S, A] + [f"{1e3 * t:.1f}" for t in times]
                    + [f"{times[3] / times[1]:.1f}x"])
        if network.config.features.steps_left:
            steps = step_solve_times(network, stat, readings.offline, max(1, repeats // 2))
            step_rows.append([S, A, f"{1e3 * times[5]:.1f}", f"{1e3 * steps[0]:.1f}",
                              f"{1e3 * steps[1]:.1f}", f"{steps[1] / steps[0]:.2f}x"])
    return rows, step_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--submission", choices=tuple(READINGS), default="gnn-fm",
                        help="read the network as this submission does (default: gnn-fm)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a trained network (default: the submission's shipped one)")
    args = parser.parse_args()
    readings = submission_readings(args.submission)
    checkpoint = args.checkpoint or readings.checkpoint
    network, config = load_network(checkpoint), load_model(checkpoint)[1]
    features = config.model.features
    rounds = readings.online.rounds or config.model.num_rounds
    print(f"policy refresh latency of {checkpoint.name} read as {args.submission}, 1 thread, "
          f"{rounds} rounds, width {config.model.width}, horizon {HORIZON}, "
          f"plans {'on' if features.plans else 'off'} (best of {args.repeats}; milliseconds)")
    rows, step_rows = latency_tables(network, readings, args.repeats)
    print(tabulate(rows, headers=["S", "A", "featurize", "forward (sparse)",
                                  "forward, batch of 2", "forward (dense)",
                                  "online refresh", "offline solve", "dense / sparse"],
                   tablefmt="github", disable_numparse=True))
    if step_rows:
        print(f"\noffline solve with one policy per step, H = {HORIZON} (milliseconds)")
        print(tabulate(step_rows, headers=[
            "S", "A", "one policy", f"per step, batches of {STEP_BATCH}",
            "per step, batches of 1", "batches of 1 / batched"],
            tablefmt="github", disable_numparse=True))
    rate, per_step = training_rate(config)
    print(f"training: {rate:.1f} MDPs/s ({per_step:.2f} s per step of {config.batch_size}, "
          "1 thread)")


if __name__ == "__main__":
    main()
