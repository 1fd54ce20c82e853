"""Environment steps per second with uniform-random actions, in one run:

1. rlbench-icl's ``Simulator`` (the harness's hot loop),
2. rlbench-icl's task through ``gymnasium.make("rlbench_icl/FrozenLake4x4-v0")``,
3. gymnasium's own ``gymnasium.make("FrozenLake-v1")`` (the named alternative).

Usage: python benchmarks/bench_env_step.py [--steps N] [--repeats R]
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np

import rlbench_icl
from rlbench_icl import Simulator


def run_simulator(actions: np.ndarray) -> int:
    task = rlbench_icl.default_registry().make("FrozenLake4x4-v0")
    sim = Simulator(task.mdp, np.random.default_rng(0))
    horizon, terminal = task.mdp.horizon, task.mdp.terminal
    state, t = sim.reset(), 0
    for a in actions.tolist():
        _, state, done = sim.step(state, a)
        t += 1
        if done or t == horizon:
            state, t = sim.reset(), 0
    return int(terminal.sum())


def run_gym(env_id: str, actions: np.ndarray, **kwargs) -> None:
    env = gymnasium.make(env_id, **kwargs)
    env.reset(seed=0)
    for a in actions.tolist():
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()


def best_rate(fn, actions, repeats) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(actions)
        best = min(best, time.perf_counter() - start)
    return len(actions) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    actions = np.random.default_rng(1).integers(0, 4, size=args.steps)
    rates = {
        "rlbench-icl Simulator": best_rate(run_simulator, actions, args.repeats),
        "rlbench-icl via gymnasium.make": best_rate(
            lambda a: run_gym("rlbench_icl/FrozenLake4x4-v0", a), actions, args.repeats),
        "gymnasium FrozenLake-v1": best_rate(
            lambda a: run_gym("FrozenLake-v1", a, is_slippery=True), actions, args.repeats),
    }
    baseline = rates["gymnasium FrozenLake-v1"]
    print(f"{args.steps} uniform-random steps on FrozenLake 4x4 (slippery), best of "
          f"{args.repeats}")
    for name, rate in rates.items():
        print(f"  {name:32s} {rate:>12,.0f} steps/s   {rate / baseline:5.2f}x gymnasium")


if __name__ == "__main__":
    main()
