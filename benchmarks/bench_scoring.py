"""Leaderboard regeneration time, and our bootstrap against rliable's, in one run.

1. Regenerate a leaderboard for 6 submissions x 20 tasks x 20 seeds (online and offline).
   The result files are synthetic (drawn scores, K = 100 episodes) for 20 private Garnet tasks
   declared in a temporary task directory — what is timed is reading, scoring, bootstrapping,
   tables and figures, not agents.
2. Interval estimates (IQM, median, mean, optimality gap) for one 20 x 20 score matrix:
   ``rlbench_icl.scoring.aggregate_with_ci`` against ``rliable.library.get_interval_estimates``
   at the same number of resamples.

Usage: python benchmarks/bench_scoring.py [--resamples N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from rliable import library as rly
from rliable import metrics

from rlbench_icl import load_registry, scoring, store
from rlbench_icl.leaderboard import build_leaderboard
from rlbench_icl.protocols import protocol_settings
from rlbench_icl.runner import task_reference

TASKS, SEEDS, SUBMISSIONS, EPISODES = 20, 20, 6, 100


def write_tasks(directory: Path) -> None:
    entries = [f'[[task]]\nid = "BenchGarnet{i}-v0"\ndescription = "bench"\n'
               f'tags = ["bench"]\nbuilder = "garnet"\nhorizon = 10\nepisodes = {EPISODES}\n'
               f"[task.params]\nnum_states = 10\nnum_actions = 3\nbranching = 2\nseed = {i}\n"
               for i in range(TASKS)]
    (directory / "bench.toml").write_text("\n".join(entries))


def write_results(results: Path, registry, rng: np.random.Generator) -> None:
    for k in range(SUBMISSIONS):
        meta = {"name": f"agent-{k}", "version": "1", "authors": "", "description": "",
                "url": "", "protocols": ["online", "offline"]}
        for task_id in registry.select("bench"):
            task = registry.make(task_id)
            ref = task_reference(task)
            for seed in range(SEEDS):
                skill = rng.beta(1 + k, 3)
                v = ref["random_value"] + skill * (ref["optimal_value"] - ref["random_value"])
                returns = (v + rng.normal(0, 0.1, EPISODES)).tolist()
                online = {"episodes": {"returns": returns, "policy_values": [v] * EPISODES},
                          "scores": {"online_score": float(task.normalise(np.mean(returns))),
                                     "final_score": skill, "cumulative_regret": 0.0,
                                     "episodes_to_solve": None,
                                     "episodes_to_solve_source": "policy"}}
                cells = [{"epsilon": e, "dataset_episodes": n, "transitions": 10 * n,
                          "value": v, "normalised_value": skill}
                         for e in (1.0, 0.1) for n in (5, 50)]
                offline = {"cells": cells, "scores": {"offline_score": skill}}
                for protocol, result in (("online", online), ("offline", offline)):
                    record = {"schema": store.SCHEMA, "harness_version": "bench",
                              "submission": meta, "task": ref, "protocol": protocol,
                              "settings": protocol_settings(task, protocol).to_dict(),
                              "seed": seed, "status": "ok", "error": None,
                              "result": result}
                    path = store.result_path(results, meta["name"], protocol, task_id, seed)
                    store.write_atomic(path, store.dumps(record))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    config = scoring.BootstrapConfig(resamples=args.resamples)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "tasks").mkdir()
        write_tasks(tmp / "tasks")
        registry = load_registry([tmp / "tasks"])
        write_results(tmp / "results", registry, np.random.default_rng(0))
        start = time.perf_counter()
        summary = build_leaderboard(tmp / "results", tmp / "board", registry, config,
                                    suite_tag="bench", seeds=SEEDS)
        board_s = time.perf_counter() - start
        if summary["refused"] or len(summary["online"]) != SUBMISSIONS:
            raise RuntimeError(f"the synthetic results were not all accepted: {summary}")
    print(f"leaderboard for {SUBMISSIONS} submissions x {TASKS} tasks x {SEEDS} seeds "
          f"(online + offline, {args.resamples} resamples): {board_s:.1f} s")

    matrix = np.random.default_rng(1).beta(2, 2, size=(SEEDS, TASKS))
    start = time.perf_counter()
    scoring.aggregate_with_ci(matrix, config)
    ours = time.perf_counter() - start

    def aggregate(s):
        return np.array([metrics.aggregate_iqm(s), metrics.aggregate_median(s),
                         metrics.aggregate_mean(s), metrics.aggregate_optimality_gap(s)])

    start = time.perf_counter()
    rly.get_interval_estimates({"x": matrix}, aggregate, reps=args.resamples)
    theirs = time.perf_counter() - start
    print(f"4 aggregates with CIs on a {SEEDS} x {TASKS} matrix, {args.resamples} resamples: "
          f"rlbench-icl {ours:.3f} s, rliable {theirs:.3f} s ({theirs / ours:.0f}x)")


if __name__ == "__main__":
    main()
