"""What a stationary policy can score on finite-horizon tasks: the ceiling of gnn-fm's output.

A network that does not read the steps left outputs one policy for every step of an episode
(S, A); its targets are greedy on Q* discounted by min(gamma, 1 - c/H) (``prior.optimal_q``
with ``tie_break`` = c). Finite-horizon tasks are scored by the H-step value, whose optimum
may be non-stationary (act differently when few steps remain); VI-LCB and UCB-VI return
(H, S, A) policies. This script scores, exactly from each MDP's known model, the stationary
target policy (``stationary``, c = 1), a receding-horizon one (``receding``: at step t, the
stationary target of an (H - t)-step task), and per-step ones (``per step c``: at step t,
greedy on Q* with H - t steps to go, discounted by 1 - c/H: the target of a network that
reads the steps left), as normalised values (1 = optimal). The first-step (stationary)
target at c = 0.3 is reported too: what such a network plays online; and the per-step one
planned as gnn-fm plans it (``fm.policy.STEP_GRID``: every step near the end, geometrically
spaced before).

Rows: the finite-horizon MDPs of the synthetic tuning suites. ``--tasks SELECTOR`` adds the
registry's tasks, one row each: a property of the task read from its model, like V* and
V_rand; nothing is chosen from those rows.

Usage: python experiments/stationary_ceiling.py [--mdps N] [--tasks SELECTOR]
"""

from __future__ import annotations

# isort: off
import rlbench_icl  # noqa: F401 - before numpy: no AVX-512 kernels (rlbench_icl/cpu.py)
# isort: on
import argparse
import dataclasses

import numpy as np
from tabulate import tabulate

from rlbench_icl import dynprog, registry
from rlbench_icl.fm.planning import stationary_discount
from rlbench_icl.fm.policy import step_plan
from rlbench_icl.fm.prior import optimal_q
from rlbench_icl.tasks import Task
from rlbench_icl.tuning import SUITES, tuning_tasks

TIE_BREAKS = (1.0, 0.3, 0.1)


def stationary(task: Task, tie_break: float = 1.0) -> float:
    policy = dynprog.greedy_policy(optimal_q(task.mdp, tie_break=tie_break))
    return float(task.normalise(task.policy_value(policy)))


def receding(task: Task) -> float:
    m = task.mdp
    policy = np.stack([
        dynprog.greedy_policy(optimal_q(dataclasses.replace(m, horizon=m.horizon - t),
                                        tie_break=1.0))
        for t in range(m.horizon)])
    return float(task.normalise(task.policy_value(policy)))


def per_step(task: Task, tie_break: float, on_grid: bool = False) -> float:
    """Greedy per step; ``on_grid``: a step plays the policy of the planned steps-left value
    that serves it in gnn-fm (``step_plan``: the next at or above its steps left)."""
    m = task.mdp
    gamma = stationary_discount(m.horizon, m.discount, tie_break)
    Q = dynprog.backward_induction(m.P, m.R, m.horizon, gamma)[0]  # row t: H - t steps left
    if on_grid:
        planned, serves = step_plan(m.horizon)
        Q = Q[m.horizon - np.asarray(planned)[serves]]
    return float(task.normalise(task.policy_value(dynprog.greedy_policy(Q))))


COLUMNS = {"stationary": stationary, "receding": receding,
           "stationary c=0.3": lambda t: stationary(t, 0.3),
           **{f"per step c={c}": (lambda t, c=c: per_step(t, c)) for c in TIE_BREAKS},
           "per step c=0.3, STEP_GRID": lambda t: per_step(t, 0.3, on_grid=True)}


def suite_row(suite: str, count: int) -> list[str]:
    """Mean [min] of every column over the suite's finite-horizon MDPs."""
    tasks = [t for t in tuning_tasks(count, suite) if t.mdp.objective == "finite"]
    row = [f"tuning suite {suite} ({len(tasks)} finite), mean [min]", "-"]
    for column in COLUMNS.values():
        values = [column(t) for t in tasks]
        row.append(f"{np.mean(values):.5f} [{min(values):.5f}]" if values else "-")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mdps", type=int, default=24, help="MDPs per tuning suite")
    parser.add_argument("--tasks", default=None,
                        help="also report these registry tasks (a property of each task)")
    args = parser.parse_args()
    rows = []
    if args.tasks is not None:
        reg = registry.default_registry()
        finite = [t for t in map(reg.make, reg.select(args.tasks))
                  if t.mdp.objective == "finite"]
        rows += [[t.spec.id, t.mdp.horizon] + [f"{f(t):.5f}" for f in COLUMNS.values()]
                 for t in finite]
    rows += [suite_row(suite, args.mdps) for suite in SUITES]
    print(tabulate(rows, headers=["task", "H", *COLUMNS], tablefmt="github",
                   disable_numparse=True))


if __name__ == "__main__":
    main()
