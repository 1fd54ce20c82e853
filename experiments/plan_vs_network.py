"""Does the foundation model use the exact plan it reads? Offline, on synthetic tuning MDPs.

The network (``value_features``) reads, per pair, the advantage of an exact pessimistic plan on
the empirical model (``features.planned_advantages``, column 1), computed on the same edited
statistic (the shipped virtual trap) it is given. This script scores, on the offline protocol's
own datasets, the network's greedy policy against the greedy policy of that plan alone, per
MDP and behaviour: where the plan is right and the network is not, the network overrides
information it was handed.

Usage: python benchmarks/plan_vs_network.py [--suite default|explore] [--mdps N]
       [--seeds N] [--size EPISODES] [--jobs N] [--checkpoint DIR]
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import joblib
import numpy as np
from tabulate import tabulate
from tqdm.auto import tqdm

from rlbench_icl import ExperienceStatistic, OfflineSettings, Submission, greedy_policy
from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.fm.features import planned_advantages
from rlbench_icl.fm.virtual import with_virtual_outcome
from rlbench_icl.protocols import run_offline

sys.path.insert(0, str(Path(__file__).parent))
from tune_baselines import tuning_parser, tuning_tasks  # noqa: E402
from tune_fm import fm_module  # noqa: E402

EPSILONS = (1.0, 0.5, 0.1)


def plan_policy(info, dataset, rng, pessimism, stationary) -> np.ndarray:
    """Greedy on the pessimistic plan the network reads."""
    stat = ExperienceStatistic.from_dataset(dataset, info.num_states, info.num_actions)
    edited = with_virtual_outcome(stat, *pessimism)
    plans = planned_advantages(edited, info.horizon, info.discount, info.objective,
                               stationary=stationary)
    return greedy_policy(plans[:info.num_states, :, 1])


def scores(task, seed: int, size: int, checkpoint: Path) -> dict[str, list[float]]:
    """Normalised values of the network and of its plan, one per behaviour epsilon."""
    fm = fm_module(checkpoint)
    solvers = {"network": fm.solve_offline,
               "plan": functools.partial(plan_policy, pessimism=fm.PESSIMISM,
                                         stationary=fm.load_network().config.stationary_plans)}
    settings = OfflineSettings(dataset_episodes=(size,), epsilons=EPSILONS)
    return {name: [c["normalised_value"] for c in run_offline(
        task, Submission(name=name, version="0", solve_offline=solver), settings,
        seed)["cells"]] for name, solver in solvers.items()}


def main() -> None:
    parser = tuning_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=500, help="dataset episodes")
    parser.add_argument("--checkpoint", type=Path, default=SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    args = parser.parse_args()
    tasks = tuning_tasks(args.mdps, args.suite)
    jobs = [(t, s) for t in range(len(tasks)) for s in range(args.seeds)]
    results = joblib.Parallel(n_jobs=args.jobs)(
        joblib.delayed(scores)(tasks[t], s, args.size, args.checkpoint.resolve())
        for t, s in tqdm(jobs, desc="plan-vs-network"))
    net = np.array([r["network"] for r in results])
    plan = np.array([r["plan"] for r in results])
    rows = [[f"epsilon {eps}", f"{net[:, i].mean():.3f}", f"{plan[:, i].mean():.3f}",
             int((plan[:, i] - net[:, i] > 0.1).sum())] for i, eps in enumerate(EPSILONS)]
    rows.append(["all", f"{net.mean():.3f}", f"{plan.mean():.3f}",
                 int((plan - net > 0.1).sum())])
    print(f"{len(tasks)} synthetic tuning MDPs ({args.suite} suite) x {args.seeds} seeds, "
          f"{args.size} episodes; network {args.checkpoint.name}; mean normalised value")
    print(tabulate(rows, headers=["behaviour", "network", "its plan alone",
                                  "cells where the plan is > 0.1 better"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
