"""Speed of the reference baselines, in one run:

1. seconds per 100 episodes of every online baseline through the real protocol (``run_online``:
   acting, observing, re-planning once per episode, and the harness's exact evaluation of the
   agent's ``policy()`` whenever it changes), with ``random`` as the harness's floor;
2. UCB-VI's planning step (the optimistic backward induction of ``end_episode``) against a
   straightforward per-state Python-loop implementation of the same step, on the statistic
   UCB-VI gathered in (1); both must give the same Q.

Usage: python benchmarks/bench_baselines.py [--episodes K] [--loop-repeats R]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from rlbench_icl import OnlineSettings, default_registry
from rlbench_icl.discovery import resolve
from rlbench_icl.protocols import run_online

TASKS = ("FrozenLake8x8-v0", "Taxi-v0")
AGENTS = ("random", "ucbvi", "ucbvi-bernstein", "ucbvi-paper", "psrl", "qlearning",
          "qlearning-ucb", "qlearning-paper")


def time_online(task, name: str, num_episodes: int, keep: list) -> float:
    """Seconds for one seeded run of ``num_episodes``; appends the agent to ``keep``."""
    submission = resolve(name)[1]

    def make_agent(info, rng):
        keep.append(submission.make_online_agent(info, rng))
        return keep[-1]

    kept = dataclasses.replace(submission, make_online_agent=make_agent)
    start = time.perf_counter()
    run_online(task, kept, OnlineSettings(num_episodes), seed=0)
    return time.perf_counter() - start


def loop_plan(counts, reward_sums, terminal, bonus, v_max, discount) -> np.ndarray:
    """UCB-VI's optimistic backward induction, one (h, s, a) at a time: the reference."""
    H, S, A = bonus.shape[0] - 1, counts.shape[0], counts.shape[1]
    Q, V = np.zeros((H, S, A)), np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        for s in range(S):
            for a in range(A):
                n = counts[s, a].sum()
                if terminal[s]:
                    Q[h, s, a] = 0.0
                elif n == 0:
                    Q[h, s, a] = v_max[h]
                else:
                    expected = counts[s, a] @ V[h + 1] / n
                    q = reward_sums[s, a] / n + bonus[h, s, a] + discount * expected
                    Q[h, s, a] = min(q, v_max[h])
            V[h, s] = Q[h, s].max()
    return Q


def compare_planning(agent, repeats: int) -> tuple[float, float, float]:
    """``(vectorised ms, loop ms, max |Q difference|)`` of one planning step of ``agent``."""
    stat = agent.experience.stat
    start = time.perf_counter()
    for _ in range(repeats):
        agent.end_episode()
    fast_ms = 1e3 * (time.perf_counter() - start) / repeats
    n = np.maximum(stat.visits, 1)
    bonus = agent.span * agent.bonus(n, agent.remaining[:, None, None], agent.log_term,
                                     agent.scale)
    start = time.perf_counter()
    Q = loop_plan(stat.transition_counts, stat.reward_sums, stat.terminal_seen, bonus,
                  agent.v_max, agent.info.discount)
    loop_ms = 1e3 * (time.perf_counter() - start)
    return fast_ms, loop_ms, float(np.abs(Q - agent.q).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--loop-repeats", type=int, default=20,
                        help="repeats of the vectorised planning step when timing it")
    args = parser.parse_args()
    registry, K = default_registry(), args.episodes
    print(f"Online baselines through run_online, seed 0, {K} episodes per run "
          "(seconds per 100 episodes)")
    print(f"  {'agent':18s}" + "".join(f"{t:>18s}" for t in TASKS))
    ucbvi_agents = {}
    tasks = {t: registry.make(t) for t in TASKS}
    for name in AGENTS:
        cells = []
        for task_id, task in tasks.items():
            keep: list = []
            cells.append(100 * time_online(task, name, K, keep) / K)
            if name == "ucbvi":
                ucbvi_agents[task_id] = keep[0]
        print(f"  {name:18s}" + "".join(f"{c:18.2f}" for c in cells))
    print("UCB-VI planning step (one end_episode) on the statistic after those episodes")
    print(f"  {'task':18s}{'vectorised ms':>15s}{'python loop ms':>16s}{'speed-up':>10s}"
          f"{'max |dQ|':>11s}{'loop s/100 ep':>15s}")
    for task_id, agent in ucbvi_agents.items():
        fast, loop, diff = compare_planning(agent, args.loop_repeats)
        print(f"  {task_id:18s}{fast:15.2f}{loop:16.1f}{loop / fast:10.0f}x{diff:11.1e}"
              f"{loop / 10:15.1f}")


if __name__ == "__main__":
    main()
