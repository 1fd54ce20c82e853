"""Harness overhead per step of the online protocol, in one run:

1. a bare loop over the task's sampler (``Simulator.step`` with random actions),
2. the full online protocol with the ``random`` submission (``run_online``: agent calls,
   action checks, returns, exact evaluation of the agent's policy whenever it changes),
3. a gymnasium ``FrozenLake-v1`` loop with random actions (the named alternative).

Usage: python benchmarks/bench_online_loop.py [--episodes K]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import gymnasium
import numpy as np

from rlbench_icl import OnlineSettings, Simulator, default_registry
from rlbench_icl.discovery import resolve
from rlbench_icl.protocols import run_online

TASK = "FrozenLake4x4-v0"


def bare_loop(task, num_episodes: int) -> int:
    sim, rng = Simulator(task.mdp, np.random.default_rng(0)), np.random.default_rng(1)
    steps = 0
    for _ in range(num_episodes):
        state = sim.reset()
        for _ in range(task.mdp.horizon):
            _, state, done = sim.step(state, int(rng.integers(4)))
            steps += 1
            if done:
                break
    return steps


def protocol_loop(task, num_episodes: int) -> int:
    submission = resolve("random")[1]
    agents = []

    def make_agent(info, rng):
        agents.append(_Counting(submission.make_online_agent(info, rng)))
        return agents[-1]

    counted = dataclasses.replace(submission, make_online_agent=make_agent)
    run_online(task, counted, OnlineSettings(num_episodes), seed=0)
    return agents[0].steps


class _Counting:
    """Wraps an agent to count act() calls (the protocol does not record step counts)."""

    def __init__(self, agent):
        self.agent, self.steps = agent, 0

    def act(self, state, step):
        self.steps += 1
        return self.agent.act(state, step)

    def observe(self, *transition):
        self.agent.observe(*transition)

    def end_episode(self):
        self.agent.end_episode()

    def policy(self):
        return self.agent.policy()


def gym_loop(num_episodes: int) -> int:
    env, rng = gymnasium.make("FrozenLake-v1", is_slippery=True), np.random.default_rng(1)
    steps = 0
    for k in range(num_episodes):
        env.reset(seed=k)
        while True:
            _, _, terminated, truncated, _ = env.step(int(rng.integers(4)))
            steps += 1
            if terminated or truncated:
                break
    return steps


def timed(fn, *args) -> tuple[float, int]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20_000)
    args = parser.parse_args()
    task = default_registry().make(TASK)
    K = args.episodes
    bare_s, steps = timed(bare_loop, task, K)
    proto_s, proto_steps = timed(protocol_loop, task, K)
    gym_s, gym_steps = timed(gym_loop, K)
    print(f"{K} episodes of uniform-random play on {TASK} ({steps} steps in the bare loop)")
    rows = [("bare Simulator loop", bare_s, steps),
            ("online protocol + random submission", proto_s, proto_steps),
            ("gymnasium FrozenLake-v1 loop", gym_s, gym_steps)]
    for name, seconds, n in rows:
        print(f"  {name:38s} {1e6 * seconds / n:7.2f} us/step  {n / seconds:>11,.0f} steps/s")
    overhead = 1e6 * (proto_s / proto_steps - bare_s / steps)
    print(f"  protocol overhead over the bare loop: {overhead:.2f} us/step (agent calls, "
          "checks, an exact evaluation whenever the policy changes)")


if __name__ == "__main__":
    main()
