"""Foundation-model speed of the shipped network (submissions/gnn_fm_checkpoint), in one run:

1. latency of one policy refresh at S = 16, 64, 500: featurizing the statistic (including the
   exact plans the network reads, if it reads them), the forward pass with the sparse
   successor attention, and, as the named alternative, the same forward pass with dense
   attention over all S states (every pair attends to every state, as in a dense transformer
   layer); the online agent's refresh is one featurization and one forward pass on a batch of
   two (exploring and exploiting bonus); the offline solve is the submission's own
   ``policy_logits`` with its virtual trap (one extra state, then featurize and forward);
2. for a network that reads the steps left (release 6), the offline solve of a finite-horizon
   task with one policy per step (H forward passes, in batches of ``STEP_BATCH``), against
   the named alternatives one pass per step (batches of 1) and the one-policy solve;
3. training throughput (synthetic MDPs per second) with the shipped training config.

Usage: python benchmarks/bench_fm.py [--repeats N] [--checkpoint DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

from rlbench_icl import ExperienceStatistic, TaskInfo
from rlbench_icl.discovery import SUBMISSIONS_DIR, _import_file
from rlbench_icl.fm.features import collate, featurize, with_bonus
from rlbench_icl.fm.train import _train_step, load_model

HORIZON = 100

SIZES = [(16, 4, 3), (64, 4, 3), (500, 6, 2)]  # (S, A, successors per pair), Taxi-like last


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


def forward(model, contexts) -> None:
    with torch.no_grad():
        model(collate(contexts))


def info_for(stat) -> TaskInfo:
    return TaskInfo(stat.num_states, stat.num_actions, HORIZON, 1.0, "finite", (-1.0, 1.0),
                    "gaussian", 0)


def refresh_times(fm, model, stat, repeats: int) -> list[float]:
    """Seconds to featurize, forward one context, forward two, forward one densely, and
    the submission ``fm``'s one-policy offline solve."""
    inputs = model.config.inputs()
    context = featurize(stat, HORIZON, 1.0, **inputs)
    dense_context = dense(featurize(stat, HORIZON, 1.0, **inputs))
    info = info_for(stat)
    return [best_time(lambda: featurize(stat, HORIZON, 1.0, **inputs), repeats),
            best_time(lambda: forward(model, [context]), repeats),
            best_time(lambda: forward(model, [context, with_bonus(context, 0.0)]), repeats),
            best_time(lambda: forward(model, [dense_context]), repeats),
            best_time(lambda: fm.policy_logits(info, stat, virtual=fm.PESSIMISM), repeats)]


def step_solve_times(fm, stat, repeats: int) -> list[float]:
    """Seconds of the per-step logits (H passes) in batches of ``fm.STEP_BATCH`` and of 1."""
    info, batch = info_for(stat), fm.STEP_BATCH
    times = [best_time(lambda: fm.step_logits(info, stat, virtual=fm.PESSIMISM), repeats)]
    fm.STEP_BATCH = 1
    try:
        times.append(best_time(lambda: fm.step_logits(info, stat, virtual=fm.PESSIMISM),
                               repeats))
    finally:
        fm.STEP_BATCH = batch
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="another trained network (default: the shipped one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    fm = _import_file(SUBMISSIONS_DIR / "gnn_fm.py")  # the submission, imported once
    if args.checkpoint is not None:
        fm.CHECKPOINT = args.checkpoint.resolve()
    model, config = fm.load_network(), load_model(fm.CHECKPOINT)[1]
    plans = config.model.value_features
    rng = np.random.default_rng(0)
    print(f"policy refresh latency of the shipped network, 1 thread, {config.model.num_rounds} "
          f"rounds, width {config.model.width}, horizon {HORIZON}, plans "
          f"{'on' if plans else 'off'} (best of {args.repeats}; milliseconds)")
    rows, step_rows = [], []
    for S, A, k in SIZES:
        stat = statistic(rng, S, A, k)
        times = refresh_times(fm, model, stat, args.repeats)
        rows.append([S, A] + [f"{1e3 * t:.1f}" for t in times[:4]]
                    + [f"{1e3 * (times[0] + times[2]):.1f}", f"{1e3 * times[4]:.1f}",
                       f"{times[3] / times[1]:.1f}x"])
        if config.model.steps_left_input:
            steps = step_solve_times(fm, stat, max(1, args.repeats // 2))
            step_rows.append([S, A, f"{1e3 * times[4]:.1f}", f"{1e3 * steps[0]:.1f}",
                              f"{1e3 * steps[1]:.1f}", f"{steps[1] / steps[0]:.2f}x"])
    print(tabulate(rows, headers=["S", "A", "featurize", "forward (sparse)",
                                  "forward, batch of 2", "forward (dense)",
                                  "online refresh", "offline solve", "dense / sparse"],
                   tablefmt="github", disable_numparse=True))
    if step_rows:
        print(f"\noffline solve with one policy per step, H = {HORIZON} (milliseconds)")
        print(tabulate(step_rows, headers=[
            "S", "A", "one policy", f"per step, batches of {fm.STEP_BATCH}",
            "per step, batches of 1", "batches of 1 / batched"],
            tablefmt="github", disable_numparse=True))
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr)
    steps = 5
    start = time.perf_counter()
    for step in range(steps):
        _train_step(model, optimiser, config, np.random.default_rng([0, step]))
    seconds = time.perf_counter() - start
    print(f"training: {steps * config.batch_size / seconds:.1f} MDPs/s "
          f"({seconds / steps:.2f} s per step of {config.batch_size}, 1 thread)")


if __name__ == "__main__":
    main()
