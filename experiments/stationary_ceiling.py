"""What a stationary policy can score on finite-horizon tasks: the ceiling of gnn-fm's output.

The foundation model outputs one policy for every step of an episode (S, A); its targets are
greedy on Q* discounted by min(gamma, 1 - 1/H) (``prior.optimal_q(stationary=True)``).
Finite-horizon tasks are scored by the H-step value, whose optimum may be non-stationary (act
differently when few steps remain); VI-LCB and UCB-VI return (H, S, A) policies. This script
scores, exactly from each task's known model, the stationary target policy (``stationary``),
a receding-horizon one (``receding``: at step t, the stationary target of an (H - t)-step
task), and per-step ones (``per step c``: at step t, greedy on Q* with H - t steps to go,
discounted by 1 - c/H: the target of a network that reads the steps left, fm_steps.toml), as
normalised values (1 = optimal). The first-step (stationary) target at c = 0.3 is reported
too: what such a network plays online; and the per-step one planned as gnn-fm plans it
(``STEP_GRID``: every step near the end, geometrically spaced before). It reads the
held-out tasks' models only to report a property of the task, like V* and V_rand; nothing
is chosen from it.

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
from rlbench_icl.discovery import SUBMISSIONS_DIR, _import_file
from rlbench_icl.fm.features import stationary_discount
from rlbench_icl.fm.prior import optimal_q

sys.path.insert(0, str(Path(__file__).parent))
from tune_baselines import tuning_tasks  # noqa: E402

GNN_FM = _import_file(SUBMISSIONS_DIR / "gnn_fm.py")

TIE_BREAKS = (1.0, 0.3, 0.1)


def stationary(task, tie_break: float = 1.0) -> float:
    policy = dynprog.greedy_policy(optimal_q(task.mdp, stationary=True, tie_break=tie_break))
    return float(task.normalise(task.policy_value(policy)))


def per_step(task, tie_break: float, on_grid: bool = False) -> float:
    """Greedy per step; ``on_grid``: a step plays the policy of the planned steps-left value
    that serves it in gnn-fm (``step_plan``: the next at or above its steps left)."""
    m = task.mdp
    gamma = stationary_discount(m.horizon, m.discount, tie_break)
    Q = dynprog.backward_induction(m.P, m.R, m.horizon, gamma)[0]  # row t: H - t steps left
    if on_grid:
        planned, serves = GNN_FM.step_plan(m.horizon)
        Q = Q[m.horizon - np.asarray(planned)[serves]]
    return float(task.normalise(task.policy_value(dynprog.greedy_policy(Q))))


def per_step_grid(task) -> float:
    return per_step(task, 0.3, on_grid=True)


COLUMNS = {"stationary": stationary, "receding": lambda t: receding(t),
           "stationary c=0.3": lambda t: stationary(t, 0.3),
           **{f"per step c={c}": (lambda t, c=c: per_step(t, c)) for c in TIE_BREAKS},
           "per step c=0.3, STEP_GRID": per_step_grid}


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
    rows = [[t.spec.id, t.mdp.horizon] + [f"{f(t):.5f}" for f in COLUMNS.values()]
            for t in finite]
    for suite in ("default", "explore"):
        tasks = [t for t in tuning_tasks(24, suite) if t.mdp.objective == "finite"]
        row = [f"tuning suite {suite} ({len(tasks)} finite), mean [min]", "-"]
        for f in COLUMNS.values():
            values = [f(t) for t in tasks]
            row.append(f"{np.mean(values):.5f} [{min(values):.5f}]")
        rows.append(row)
    print(tabulate(rows, headers=["task", "H", *COLUMNS], tablefmt="github",
                   disable_numparse=True))


if __name__ == "__main__":
    main()
