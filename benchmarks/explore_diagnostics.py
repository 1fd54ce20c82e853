"""How agents explore the synthetic ``explore`` tuning suite (sparse far goals; never a
benchmark task): online score, share of live pairs tried, share of episodes that reach the
goal (the largest reward) or end in a trap, and mean episode length over H.

UCB-VI, the shipped foundation model, and a network with a bonus input (``--checkpoint``)
at each ``--bonus``. One seed, ``--episodes`` episodes, 24 MDPs.

Usage: python benchmarks/explore_diagnostics.py [--checkpoint DIR] [--bonus B ...]
       [--episodes K] [--jobs N]
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import joblib
import numpy as np
from tabulate import tabulate

from rlbench_icl import OnlineSettings, Submission
from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.protocols import run_online

sys.path.insert(0, str(Path(__file__).parent))
from tune_baselines import module, tuning_tasks  # noqa: E402
from tune_fm import fm_module  # noqa: E402

MDPS = 24


class Recorder:
    """Passes every call to the agent and keeps the transitions, episode by episode."""

    def __init__(self, agent, episodes: list):
        self.agent, self.episodes = agent, episodes
        episodes.append([])

    def act(self, state, step):
        return self.agent.act(state, step)

    def observe(self, state, action, reward, next_state, terminated):
        self.episodes[-1].append((state, action, reward, terminated))
        self.agent.observe(state, action, reward, next_state, terminated)

    def end_episode(self):
        self.episodes.append([])
        self.agent.end_episode()

    def policy(self):
        return self.agent.policy()


def factory(agent: str, checkpoint: Path | None):
    if agent == "ucbvi":
        return module("ucbvi").UCBVI
    if agent == "gnn-fm":
        return fm_module(SUBMISSIONS_DIR / "gnn_fm_checkpoint").FoundationModelAgent
    return functools.partial(fm_module(checkpoint).FoundationModelAgent,
                             bonus=float(agent.split("=")[1]))


def diagnose(agent: str, checkpoint: Path | None, task, episodes: int) -> list[float]:
    make, log = factory(agent, checkpoint), []
    sub = Submission(name="diagnosed", version="0",
                     make_online_agent=lambda info, rng: Recorder(make(info, rng), log))
    score = run_online(task, sub, OnlineSettings(episodes), seed=0)["scores"]["online_score"]
    mdp, log = task.mdp, log[:-1]
    tried = {(s, a) for ep in log for s, a, _, _ in ep}
    best = mdp.reward_bounds()[1]
    goal = np.mean([any(r >= best - 1e-9 for _, _, r, _ in ep) for ep in log])
    trap = np.mean([any(r < 0 and done for _, _, r, done in ep) for ep in log])
    length = np.mean([len(ep) for ep in log]) / mdp.horizon
    return [score, len(tried) / ((~mdp.terminal).sum() * mdp.num_actions), goal, trap, length]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--bonus", type=float, nargs="*", default=[0.0, 0.1])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    agents = ["ucbvi", "gnn-fm"]
    if args.checkpoint is not None:
        agents += [f"bonus={b:g}" for b in args.bonus]
    checkpoint = None if args.checkpoint is None else args.checkpoint.resolve()
    tasks = tuning_tasks(MDPS, "explore")
    values = joblib.Parallel(n_jobs=args.jobs)(
        joblib.delayed(diagnose)(a, checkpoint, task, args.episodes)
        for a in agents for task in tasks)
    rows = [[a] + [f"{v:.3f}" for v in np.mean(values[k * MDPS:(k + 1) * MDPS], axis=0)]
            for k, a in enumerate(agents)]
    print(f"explore suite, {MDPS} MDPs, 1 seed, {args.episodes} episodes"
          + (f"; bonus network {checkpoint.name}" if checkpoint else ""))
    print(tabulate(rows, headers=["agent", "online score", "pairs tried", "goal episodes",
                                  "trap episodes", "length / H"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
