"""How good a *stationary* policy the foundation model's training target is, on the synthetic
tuning suites' finite-horizon MDPs (true models, no learning involved).

A network that does not read the steps left outputs one policy for every step. For finite
horizons its target used to be Boltzmann over the undiscounted first-step Q*; there
every action that reaches a one-off goal within the remaining horizon ties, and a stationary
policy that picks among tied actions can circle forever. Targets and plans are now discounted
by 1 - c/H (``FeatureConfig.tie_break`` = c, ``features.stationary_discount``). This script
scores, per suite, the greedy policy and the Boltzmann target (temperature 0.2, the prior's)
of the undiscounted (c = 0) and the stationary (c = 1) first-step Q*, by exact normalised
value.

Usage: python experiments/stationary_targets.py [--mdps N]
"""

from __future__ import annotations

# isort: off
import rlbench_icl  # noqa: F401 - before numpy: no AVX-512 kernels (rlbench_icl/cpu.py)
# isort: on
import argparse

import numpy as np
from tabulate import tabulate

from rlbench_icl.dynprog import greedy_policy
from rlbench_icl.fm.prior import optimal_q, target_policy
from rlbench_icl.tasks import Task
from rlbench_icl.tuning import SUITES, tuning_tasks

TEMPERATURE = 0.2


def scores(task: Task) -> list[float]:
    """Normalised values: greedy and Boltzmann, on first-step then stationary Q*."""
    out = []
    for tie_break in (0.0, 1.0):
        q = optimal_q(task.mdp, tie_break=tie_break)
        for policy in (greedy_policy(q), target_policy(q, task.mdp, TEMPERATURE)):
            out.append(float(task.normalise(task.policy_value(policy))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mdps", type=int, default=24)
    args = parser.parse_args()
    rows = []
    for suite in SUITES:
        finite = [t for t in tuning_tasks(args.mdps, suite) if t.mdp.objective == "finite"]
        if not finite:
            rows.append([suite, 0] + ["-"] * 4)
            continue
        values = np.array([scores(t) for t in finite])
        rows.append([suite, len(finite)] + [f"{m:.3f} (min {lo:.3f})" for m, lo in
                                            zip(values.mean(axis=0), values.min(axis=0),
                                                strict=True)])
    print(f"finite-horizon MDPs among {args.mdps} per tuning suite; mean normalised value")
    print(tabulate(rows, headers=["suite", "MDPs", "greedy, first-step Q*",
                                  "Boltzmann 0.2, first-step", "greedy, stationary Q*",
                                  "Boltzmann 0.2, stationary"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
