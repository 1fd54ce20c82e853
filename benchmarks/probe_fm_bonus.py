"""Does the confidence bonus make the foundation model plan towards the unexplored?

A 6-state chain (not a benchmark task): action 0 moves left (staying at state 0, where it pays
0.1), action 1 moves right (nothing is paid). States 0-2 have been tried 10 times per action;
state 3 has been reached but none of its actions tried. The posterior-greedy choice at state 0
is to collect the 0.1; an explorer moves right, towards the untried pairs three steps away.
Prints the network's logit gap (right - left) at states 0-2 for several bonuses beta; a
positive gap at state 0 means the network plans a path to the frontier.

Usage: python benchmarks/probe_fm_bonus.py [--checkpoint DIR]   (a network trained with a
bonus input, e.g. by benchmarks/fm_bonus.toml; the shipped one has none and ignores beta)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tabulate import tabulate

from rlbench_icl import ExperienceStatistic, TaskInfo
from rlbench_icl.discovery import SUBMISSIONS_DIR

sys.path.insert(0, str(Path(__file__).parent))
from tune_fm import fm_module  # noqa: E402

BONUSES = (0.0, 0.1, 0.3, 1.0, 2.0)


def chain_statistic(num_states: int = 6, tried: int = 3, visits: int = 10
                    ) -> ExperienceStatistic:
    stat = ExperienceStatistic(num_states, 2)
    for s in range(tried):
        for _ in range(visits):
            stat.update(s, 0, 0.1 if s == 0 else 0.0, max(s - 1, 0), False)
            stat.update(s, 1, 0.0, s + 1, False)
    return stat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    args = parser.parse_args()
    fm = fm_module(args.checkpoint.resolve())
    info = TaskInfo(num_states=6, num_actions=2, horizon=20, discount=1.0,
                    objective="finite", reward_range=(0.0, 0.1), reward_noise="deterministic",
                    num_episodes=100)
    stat = chain_statistic()
    rows = []
    for beta in BONUSES:
        logits = fm.policy_logits(info, stat, bonus=beta)
        rows.append([beta] + [f"{logits[s, 1] - logits[s, 0]:+.2f}" for s in range(3)])
    print(f"network {fm.CHECKPOINT.name}: logit gap right - left on a 6-state chain "
          "explored up to state 3")
    print(tabulate(rows, headers=["bonus", "state 0", "state 1", "state 2"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
