"""The sweep that chose the reference baselines' hyper-parameters — on synthetic MDPs only.

Fair tuning: no benchmark task is used. The MDPs come from the synthetic priors any
foundation model may pretrain on (``rlbench_icl.synthetic``: the paper's prior, and the wide
prior with horizons capped at 60 to keep the sweep affordable), drawn from a stream of their
own. Online agents are scored by the benchmark's online score (mean normalised return over K
episodes); offline ones by the mean exact normalised value over behaviours and dataset sizes.
The rule: the value with the best mean score, among positive bonus/penalty scales (a zero
scale is swept for information only: it is no longer UCB-VI, UCB-H or VI-LCB, but greedy
certainty equivalence with optimistic or pessimistic untried pairs). The table it prints is
committed as
``benchmarks/tune_baselines.md``; each agent's module cites it.

Usage: python benchmarks/tune_baselines.py [--suite default|explore] [--mdps N] [--seeds N]
       [--episodes K] [--jobs N]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from pathlib import Path

import joblib
import numpy as np
from tabulate import tabulate

from rlbench_icl import OfflineSettings, OnlineSettings, Submission
from rlbench_icl.discovery import SUBMISSIONS_DIR, _import_file
from rlbench_icl.protocols import run_offline, run_online
from rlbench_icl.synthetic import PAPER_PRIOR, WIDE_PRIOR, sample_mdp
from rlbench_icl.tasks import Task, TaskSpec

TUNING_SEED = 20261124
TUNING_PRIOR = dataclasses.replace(WIDE_PRIOR, name="wide-tuning", horizons=(10, 60))
# A harder suite for exploration settings: every MDP pays only on entering one far goal.
EXPLORATION_PRIOR = dataclasses.replace(WIDE_PRIOR, name="explore-tuning", num_states=(16, 64),
                                        sparse_goal_prob=1.0, horizons=(20, 100))


def module(name: str):
    return _import_file(SUBMISSIONS_DIR / f"{name}.py")


def grids() -> dict[str, list[tuple[str, object]]]:
    """Agent family -> [(setting label, factory or solver)]."""
    ucbvi, ql, psrl, lcb = (module(m) for m in ("ucbvi", "qlearning", "psrl", "vi_lcb"))
    return {
        "ucbvi (scale c)": [(f"{c:g}", functools.partial(ucbvi.UCBVI, scale=c))
                            for c in (0.0, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)],
        "ucbvi-bernstein (scale c)": [
            (f"{c:g}", functools.partial(ucbvi.UCBVI, bonus=ucbvi.bernstein_bonus, scale=c))
            for c in (0.0, 0.001, 0.01, 0.1)],
        "qlearning (epsilon, step size)": [
            (f"{e:g}, {a:g}", functools.partial(ql.QLearning, epsilon=e, step_size=a))
            for e in (0.01, 0.1) for a in (0.1, 0.5, 1.0)],
        "qlearning-ucb (scale c)": [(f"{c:g}", functools.partial(ql.UCBQLearning, scale=c))
                                    for c in (0.0, 0.0001, 0.0003, 0.001, 0.003)],
        "psrl (prior mass)": [(f"{m:g}", functools.partial(psrl.PSRL, prior_mass=m))
                              for m in (0.1, 1.0, 10.0, 100.0)],
        "vi-lcb (scale c)": [(f"{c:g}", functools.partial(lcb.solve_vi_lcb, scale=c))
                             for c in (0.0, 0.0003, 0.001, 0.003, 0.01, 0.03)],
        "vi-lcb-bernstein (scale c)": [
            (f"{c:g}", functools.partial(lcb.solve_vi_lcb, penalty=lcb.bernstein_penalty,
                                         scale=c)) for c in (0.0, 0.0003, 0.001, 0.003, 0.01)],
    }


def tuning_tasks(count: int, suite: str = "default") -> list[Task]:
    """Synthetic tasks with a real gap between optimal and random (else scores explode).

    ``default``: one in three from the paper's prior, the rest from the wide prior;
    ``explore``: sparse far goals only (EXPLORATION_PRIOR), on a stream of its own."""
    rng = np.random.default_rng([TUNING_SEED, 1] if suite == "explore" else TUNING_SEED)
    tasks = []
    while len(tasks) < count:
        if suite == "explore":
            prior = EXPLORATION_PRIOR
        else:
            prior = PAPER_PRIOR if len(tasks) % 3 == 0 else TUNING_PRIOR
        mdp = sample_mdp(rng, prior)
        spec = TaskSpec(id=f"Tuning{len(tasks)}-v0", description="synthetic", reference="",
                        tags=("tuning",), builder="synthetic", params={},
                        horizon=mdp.horizon, discount=mdp.discount, objective=mdp.objective,
                        online_episodes=0, offline_dataset_episodes=(5, 50),
                        offline_epsilons=(1.0, 0.5, 0.1), source=Path(__file__))
        task = Task(spec=spec, mdp=mdp)
        if task.optimal_value - task.random_value > 0.05 * max(mdp.reward_bound(), 1e-12):
            tasks.append(task)
    return tasks


def score_setting(family: str, index: int, task: Task, seed: int, episodes: int) -> float:
    """Setting ``index`` of ``family``, rebuilt here: factories from submission files
    imported by path cannot be pickled into a worker process."""
    factory = grids()[family][index][1]
    return play(family.startswith("vi-lcb"), factory, task, seed, episodes)


def play(offline: bool, factory, task: Task, seed: int, episodes: int) -> float:
    """The tuning score of one agent factory (online) or solver (offline) on one task:
    online score over ``episodes``, or offline score on datasets of 5 and 50 episodes."""
    if offline:
        sub = Submission(name="tuning", version="0", solve_offline=factory)
        settings = OfflineSettings(dataset_episodes=(5, 50), epsilons=(1.0, 0.5, 0.1))
        return run_offline(task, sub, settings, seed)["scores"]["offline_score"]
    sub = Submission(name="tuning", version="0", make_online_agent=factory)
    return run_online(task, sub, OnlineSettings(episodes), seed)["scores"]["online_score"]


def tuning_parser(description: str) -> argparse.ArgumentParser:
    """The options every tuning script takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--mdps", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--suite", choices=("default", "explore"), default="default",
                        help="tuning MDPs: the default suite, or sparse far goals only")
    return parser


def main() -> None:
    args = tuning_parser(__doc__.splitlines()[0]).parse_args()
    tasks = tuning_tasks(args.mdps, args.suite)
    jobs = [(family, i, label, t, s) for family, options in grids().items()
            for i, (label, _) in enumerate(options)
            for t in range(len(tasks)) for s in range(args.seeds)]
    scores = joblib.Parallel(n_jobs=args.jobs)(
        joblib.delayed(score_setting)(f, i, tasks[t], s, args.episodes)
        for f, i, _, t, s in jobs)
    table: dict[tuple[str, str], list[float]] = {}
    for (family, _, label, *_), value in zip(jobs, scores, strict=True):
        table.setdefault((family, label), []).append(value)
    rows, best = [], {}
    for (family, label), values in table.items():
        mean = float(np.mean(values))
        rows.append([family, label, f"{mean:.3f}", f"{np.median(values):.3f}"])
        zero_scale = "scale" in family and float(label) == 0.0
        if not zero_scale and mean > best.get(family, ("", -np.inf))[1]:
            best[family] = (label, mean)
    print(f"{len(tasks)} synthetic MDPs (1/3 paper prior, 2/3 wide prior with H <= 60), "
          f"{args.seeds} seeds, online budget {args.episodes} episodes; offline: datasets of "
          "5 and 50 episodes from eps = 1, 0.5, 0.1 behaviours. Score = mean normalised.\n")
    print(tabulate(rows, headers=["agent", "setting", "mean score", "median"],
                   tablefmt="github", disable_numparse=True))
    print("\nChosen (best mean; positive scales only):")
    for family, (label, mean) in best.items():
        print(f"- {family}: {label} (mean {mean:.3f})")


if __name__ == "__main__":
    main()
