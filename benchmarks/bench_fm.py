"""Foundation-model speed, in one run:

1. latency of one policy refresh (featurize the statistic + forward pass) at S = 16, 64, 500
   with the sparse successor attention, against the same network with dense attention over
   all S states (every pair attends to every state, as in a dense transformer layer);
2. training throughput (synthetic MDPs per second) with the shipped training config.

Usage: python benchmarks/bench_fm.py [--repeats N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rlbench_icl import ExperienceStatistic
from rlbench_icl.fm.features import collate, featurize
from rlbench_icl.fm.train import TrainConfig, _train_step, build_model

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


def latency(model, make_context, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.no_grad():
            model(collate([make_context()]))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = TrainConfig()
    model = build_model(config.model, seed=0).eval()
    rng = np.random.default_rng(0)
    print(f"policy refresh latency, 1 thread, {config.model.num_rounds} rounds, width "
          f"{config.model.width} (best of {args.repeats})")
    for S, A, k in SIZES:
        stat = statistic(rng, S, A, k)
        sparse_s = latency(model, lambda st=stat: featurize(st, 100, 1.0), args.repeats)
        dense_s = latency(model, lambda st=stat: dense(featurize(st, 100, 1.0)), args.repeats)
        print(f"  S={S:4d} A={A}: sparse {1e3 * sparse_s:8.1f} ms   dense {1e3 * dense_s:8.1f} ms"
              f"   ({dense_s / sparse_s:.1f}x)")
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
