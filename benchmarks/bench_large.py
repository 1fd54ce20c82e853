"""Exact values and simulation against the number of states, sparse against dense.

For S in 10^3 .. 10^6 (``--max``), a ``sparse_garnet`` with A = 4, 5 successors per pair and
H = 50, each measurement in a fresh process (its peak resident memory is the process's):

- sparse (now): build the task (stored sparse above 64 MiB of dense P), then its exact
  values V*(mu0) and V_rand(mu0) (``Task.optimal_value``, ``Task.random_value``: optimal
  actions without the (H, S, A) Q, and their value on the chosen rows), then 100,000
  simulator steps of random actions;
- before (the alternative, as before issue 23): the same MDP stored dense, and V* as
  ``backward_induction`` -> ``greedy_policy`` -> ``policy_value`` of the one-hot (H, S, A)
  policy, on ``flat_transitions`` of the dense array (a CSR, as ``Task`` used); run only
  where the dense (S, A, S) array fits in memory (S <= 4,000 here).

Both print V*(mu0) to all digits: the two paths must agree exactly.

Usage: python benchmarks/bench_large.py [--max 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

CHILD = r"""
import json, resource, sys, time
import numpy as np
from rlbench_icl import dynprog
from rlbench_icl.builders.garnet import sparse_garnet
from rlbench_icl.registry import default_registry
from rlbench_icl.simulate import Simulator
from rlbench_icl.tasks import Task
import dataclasses

S, form = int(sys.argv[1]), sys.argv[2]
clock = time.process_time
start = clock()
mdp = sparse_garnet(num_states=S, num_actions=4, branching=5, seed=0, horizon=50)
if form == "dense":
    mdp = dataclasses.replace(mdp, storage="dense")
built = clock()
spec = dataclasses.replace(default_registry().spec("GarnetS20A3B2-v0"), id="Scale-v0",
                           horizon=mdp.horizon)
task = Task(spec=spec, mdp=mdp)
if form == "dense":
    flat = dynprog.flat_transitions(mdp.P)
    Q = dynprog.backward_induction(flat, mdp.R, mdp.horizon)[0]
    V = dynprog.policy_value(flat, mdp.R, dynprog.greedy_policy(Q), mdp.horizon)[0]
    optimal = float(mdp.mu0 @ V)
else:
    optimal = task.optimal_value
random_value = task.random_value
valued = clock()
sim, actions = Simulator(mdp, np.random.default_rng(0)), np.random.default_rng(1).integers(
    0, 4, 100_000).tolist()
state = sim.reset()
for a in actions:
    state = sim.step(state, a)[1]
simulated = clock()
print(json.dumps({"build": built - start, "values": valued - built,
                  "steps": simulated - valued, "optimal": repr(optimal),
                  "random": repr(random_value), "transitions": mdp.num_transitions,
                  "sparse": mdp.is_sparse,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(S: int, form: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(S), form], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1_000_000, help="largest S (default 10^6)")
    args = parser.parse_args()
    sizes = [S for S in (1_000, 4_000, 10_000, 100_000, 1_000_000) if S <= args.max]
    print(f"load average {os.getloadavg()[0]:.1f}; CPU seconds on one core")
    print(f"{'S':>9} {'path':6} {'stored':6} {'transitions':>11} {'build s':>8} "
          f"{'values s':>9} {'1e5 steps s':>11} {'peak MiB':>9}  V*(mu0)")
    for S in sizes:
        for form in ("sparse", "dense") if S <= 4_000 else ("sparse",):
            r = measure(S, form)
            path = "now" if form == "sparse" else "before"
            stored = "sparse" if r["sparse"] else "dense"
            print(f"{S:>9,} {path:6} {stored:6} {r['transitions']:>11,} {r['build']:8.2f} "
                  f"{r['values']:9.2f} {r['steps']:11.2f} {r['peak_mib']:9.0f}  "
                  f"{r['optimal']}")


if __name__ == "__main__":
    main()
