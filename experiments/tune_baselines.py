"""The sweep that chose the reference baselines' hyper-parameters — on synthetic MDPs only.

Fair tuning: no benchmark task is used; the MDPs are the synthetic tuning suites of
``rlbench_icl.tuning``. Online agents are scored by the benchmark's online score (mean
normalised return over K episodes); offline ones by the mean exact normalised value over
behaviours and dataset sizes. The rule: the value with the best mean score, among positive
bonus/penalty scales (a zero scale is swept for information only: it is no longer UCB-VI,
UCB-H or VI-LCB, but greedy certainty equivalence with optimistic or pessimistic untried
pairs). The table it prints is committed as ``experiments/tune_baselines.md``; each agent's
module cites it.

Usage: python experiments/tune_baselines.py [--suite default|explore] [--mdps N] [--seeds N]
       [--episodes K] [--jobs N]
"""

from __future__ import annotations

# isort: off
import rlbench_icl  # noqa: F401 - before numpy: no AVX-512 kernels (rlbench_icl/cpu.py)
# isort: on
import argparse
import functools

import joblib
import numpy as np
from tabulate import tabulate

from rlbench_icl import Submission
from rlbench_icl.discovery import resolve
from rlbench_icl.tasks import Task
from rlbench_icl.tuning import (
    add_suite_arguments,
    offline_score,
    online_score,
    tuning_tasks,
)

SCALES = (0.0, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)


def grids() -> dict[str, list[tuple[str, str, dict]]]:
    """Agent family -> [(setting label, submission name, options for its factory or
    solver)]. Plain data, so that worker processes get it pickled and build the agents."""
    return {
        "ucbvi (scale c)": scales("ucbvi", SCALES),
        "ucbvi-bernstein (scale c)": scales("ucbvi-bernstein", (0.0, 0.001, 0.01, 0.1)),
        "qlearning (epsilon, step size)": [
            (f"{e:g}, {a:g}", "qlearning", {"epsilon": e, "step_size": a})
            for e in (0.01, 0.1) for a in (0.1, 0.5, 1.0)],
        "qlearning-ucb (scale c)": scales("qlearning-ucb", SCALES[:5]),
        "psrl (prior mass)": [(f"{m:g}", "psrl", {"prior_mass": m})
                              for m in (0.1, 1.0, 10.0, 100.0)],
        "vi-lcb (scale c)": scales("vi-lcb", (0.0, 0.0003, 0.001, 0.003, 0.01, 0.03)),
        "vi-lcb-bernstein (scale c)": scales("vi-lcb-bernstein",
                                             (0.0, 0.0003, 0.001, 0.003, 0.01)),
    }


def scales(name: str, values) -> list[tuple[str, str, dict]]:
    return [(f"{c:g}", name, {"scale": c}) for c in values]


def score_setting(name: str, options: dict, task: Task, seed: int, episodes: int) -> float:
    """The tuning score of the submission ``name`` with ``options`` passed to its factory
    or solver (they override its own: ``ucbvi-bernstein`` keeps its bonus, takes the
    scale): online over ``episodes``, or offline."""
    base = resolve(name)[1]
    if base.solve_offline is not None:
        solver = functools.partial(base.solve_offline, **options)
        return offline_score(task, Submission("tuning", "0", solve_offline=solver), seed)
    factory = functools.partial(base.make_online_agent, **options)
    return online_score(task, Submission("tuning", "0", make_online_agent=factory), seed,
                        episodes)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_suite_arguments(parser)
    return parser.parse_args()


def best_settings(table: dict[tuple[str, str], list[float]]) -> dict[str, tuple[str, float]]:
    """Family -> (label, mean) of its best mean score, among positive scales."""
    best: dict[str, tuple[str, float]] = {}
    for (family, label), values in table.items():
        mean = float(np.mean(values))
        zero_scale = "scale" in family and float(label) == 0.0
        if not zero_scale and mean > best.get(family, ("", -np.inf))[1]:
            best[family] = (label, mean)
    return best


def main() -> None:
    args = parse_args()
    tasks = tuning_tasks(args.mdps, args.suite, args.first)
    jobs = [(family, setting, t, s) for family, settings in grids().items()
            for setting in settings for t in range(len(tasks)) for s in range(args.seeds)]
    scores = joblib.Parallel(n_jobs=args.jobs)(
        joblib.delayed(score_setting)(name, options, tasks[t], s, args.episodes)
        for _, (_, name, options), t, s in jobs)
    table: dict[tuple[str, str], list[float]] = {}
    for (family, (label, _, _), _, _), value in zip(jobs, scores, strict=True):
        table.setdefault((family, label), []).append(value)
    rows = [[family, label, f"{np.mean(v):.3f}", f"{np.median(v):.3f}"]
            for (family, label), v in table.items()]
    print(f"{len(tasks)} synthetic MDPs ({args.suite} suite), {args.seeds} seeds, online "
          f"budget {args.episodes} episodes; offline: datasets of 5 and 50 episodes from "
          "eps = 1, 0.5, 0.1 behaviours. Score = mean normalised.\n")
    print(tabulate(rows, headers=["agent", "setting", "mean score", "median"],
                   tablefmt="github", disable_numparse=True))
    print("\nChosen (best mean; positive scales only):")
    for family, (label, mean) in best_settings(table).items():
        print(f"- {family}: {label} (mean {mean:.3f})")


if __name__ == "__main__":
    main()
