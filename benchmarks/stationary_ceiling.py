"""What a stationary policy can score on finite-horizon tasks: the ceiling of gnn-fm's output.

The foundation model outputs one policy for every step of an episode (S, A); its targets are
greedy on Q* discounted by min(gamma, 1 - 1/H) (``prior.optimal_q(stationary=True)``).
Finite-horizon tasks are scored by the H-step value, whose optimum may be non-stationary (act
differently when few steps remain); VI-LCB and UCB-VI return (H, S, A) policies. This script
scores, exactly from each task's known model, the stationary target policy (``stationary``)
and a receding-horizon one (``receding``: at step t, the stationary target of an (H - t)-step
task), as normalised values (1 = optimal). It reads the held-out tasks' models only to report
a property of the task, like V* and V_rand; nothing is chosen from it.

Usage: python benchmarks/stationary_ceiling.py [--tasks SELECTOR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

from rlbench_icl import dynprog, registry
from rlbench_icl.fm.prior import optimal_q

sys.path.insert(0, str(Path(__file__).parent))
from tune_baselines import tuning_tasks  # noqa: E402


def stationary(task) -> float:
    policy = dynprog.greedy_policy(optimal_q(task.mdp, stationary=True))
    return float(task.normalise(task.policy_value(policy)))


def receding(task) -> float:
    m = task.mdp
    policy = np.stack([
        dynprog.greedy_policy(optimal_q(dataclasses.replace(m, horizon=m.horizon - t),
                                        stationary=True))
        for t in range(m.horizon)])
    return float(task.normalise(task.policy_value(policy)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="full")
    args = parser.parse_args()
    reg = registry.default_registry()
    finite = [reg.make(t) for t in reg.select(args.tasks)]
    finite = [t for t in finite if t.mdp.objective == "finite"]
    rows = [[t.spec.id, t.mdp.horizon, f"{stationary(t):.5f}", f"{receding(t):.5f}"]
            for t in finite]
    for suite in ("default", "explore"):
        tasks = [t for t in tuning_tasks(24, suite) if t.mdp.objective == "finite"]
        s, r = [stationary(t) for t in tasks], [receding(t) for t in tasks]
        rows.append([f"tuning suite {suite} ({len(tasks)} finite), mean [min]", "-",
                     f"{np.mean(s):.5f} [{min(s):.5f}]", f"{np.mean(r):.5f} [{min(r):.5f}]"])
    print(tabulate(rows, headers=["task", "H", "stationary", "receding"], tablefmt="github",
                   disable_numparse=True))


if __name__ == "__main__":
    main()
