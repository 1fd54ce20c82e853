"""Does the foundation model use the exact plan it reads? Offline, on synthetic tuning MDPs.

The network (``FeatureConfig.plans``) reads, per pair, the advantage of an exact pessimistic
plan on the empirical model (``features.planned_advantages``, column 1), computed on the same
edited statistic (the shipped virtual trap, gnn_fm's ``OFFLINE`` reading) it is given. This
script scores, on the offline protocol's own datasets, the network's greedy policy against
the greedy policy of that plan alone (the first step's plan, one policy for every step), per
MDP and behaviour: where the plan is right and the network is not, the network overrides
information it was handed.

Usage: python experiments/plan_vs_network.py [--suite default|explore] [--mdps N]
       [--seeds N] [--size EPISODES] [--jobs N] [--checkpoint DIR]
"""

from __future__ import annotations

# isort: off
import rlbench_icl  # noqa: F401 - before numpy: no AVX-512 kernels (rlbench_icl/cpu.py)
# isort: on
import argparse
from pathlib import Path

import joblib
import numpy as np
from tabulate import tabulate
from tqdm.auto import tqdm

from rlbench_icl import Dataset, ExperienceStatistic, Submission, TaskInfo, greedy_policy
from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.fm.planning import planned_advantages
from rlbench_icl.fm.policy import Reading, load_network
from rlbench_icl.fm.virtual import VirtualOutcome, with_virtual_outcome
from rlbench_icl.tasks import Task
from rlbench_icl.tuning import (
    TUNING_EPSILONS,
    add_suite_arguments,
    fm_submission,
    offline_cells,
    tuning_tasks,
)

# gnn_fm's offline reading: a lasting trap as bad as the worst recurring reward seen.
PESSIMISM = VirtualOutcome(1.0, "worst-recurring", lasting=True)


def plan_solver(checkpoint: Path):
    """An offline solver greedy on the pessimistic plan the network in ``checkpoint`` reads."""
    tie_break = load_network(checkpoint).config.features.tie_break

    def solve(info: TaskInfo, dataset: Dataset, rng: np.random.Generator) -> np.ndarray:
        stat = ExperienceStatistic.from_dataset(dataset, info.num_states, info.num_actions)
        plans = planned_advantages(with_virtual_outcome(stat, PESSIMISM), info, tie_break)
        return greedy_policy(plans[:info.num_states, :, 1])

    return solve


def scores(task: Task, seed: int, size: int, checkpoint: Path) -> dict[str, list[float]]:
    """Normalised values of the network and of its plan, one per behaviour epsilon."""
    submissions = {"network": fm_submission(checkpoint, Reading(virtual=PESSIMISM)),
                   "plan": Submission("plan", "0", solve_offline=plan_solver(checkpoint))}
    return {name: [c["normalised_value"] for c in offline_cells(task, sub, seed, (size,))]
            for name, sub in submissions.items()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_suite_arguments(parser, online=False)
    parser.add_argument("--size", type=int, default=500, help="dataset episodes")
    parser.add_argument("--checkpoint", type=Path, default=SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    tasks = tuning_tasks(args.mdps, args.suite, args.first)
    jobs = [(t, s) for t in range(len(tasks)) for s in range(args.seeds)]
    results = joblib.Parallel(n_jobs=args.jobs)(
        joblib.delayed(scores)(tasks[t], s, args.size, args.checkpoint.resolve())
        for t, s in tqdm(jobs, desc="plan-vs-network"))
    net = np.array([r["network"] for r in results])
    plan = np.array([r["plan"] for r in results])
    rows = [[f"epsilon {eps}", f"{net[:, i].mean():.3f}", f"{plan[:, i].mean():.3f}",
             int((plan[:, i] - net[:, i] > 0.1).sum())]
            for i, eps in enumerate(TUNING_EPSILONS)]
    rows.append(["all", f"{net.mean():.3f}", f"{plan.mean():.3f}",
                 int((plan - net > 0.1).sum())])
    print(f"{len(tasks)} synthetic tuning MDPs ({args.suite} suite) x {args.seeds} seeds, "
          f"{args.size} episodes; network {args.checkpoint.name}; mean normalised value")
    print(tabulate(rows, headers=["behaviour", "network", "its plan alone",
                                  "cells where the plan is > 0.1 better"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
