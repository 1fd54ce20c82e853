"""Contract tests over every registered task, and exact values against independent numbers."""

import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from rlbench_icl import default_registry, discounted_optimal_values

REGISTRY = default_registry()


@pytest.fixture(scope="module", params=REGISTRY.select("all"))
def task(request):
    return REGISTRY.make(request.param)


def test_task_contract(task):
    spec, m = task.spec, task.mdp
    assert m.horizon == spec.horizon and m.discount == spec.discount
    assert m.objective == spec.objective
    assert task.optimal_value > task.random_value + 1e-6, "V* must beat random to normalise"
    assert task.normalise(task.optimal_value) == pytest.approx(1.0)
    assert task.normalise(task.random_value) == pytest.approx(0.0)
    assert task.policy_value(task.optimal_policy) == pytest.approx(task.optimal_value)
    assert spec.tags and spec.description and spec.reference
    assert not m.terminal[m.mu0 > 0].any(), "episodes must not start in a terminal state"


def test_rebuilding_gives_the_same_digest(task):
    from rlbench_icl.registry import build_task
    assert build_task(task.spec).digest == task.digest


def test_suite_tags():
    quick = REGISTRY.select("quick")
    assert 1 <= len(quick) <= 4
    assert set(quick) <= set(REGISTRY.select("full"))
    assert set(REGISTRY.select("paper")) == {"PaperGrid3x3-v0", "PaperGrid5x5-v0",
                                            "PaperFrozenLake4x4-v0"}


def test_frozenlake_4x4_optimal_success_probability():
    # Independent figure: the optimal 100-step success probability of slippery FrozenLake 4x4
    # is about 0.7442 (e.g. value iteration in many public solutions).
    assert REGISTRY.make("FrozenLake4x4-v0").optimal_value == pytest.approx(0.7442, abs=5e-4)


def test_taxi_optimal_value_is_positive():
    task = REGISTRY.make("Taxi-v0")
    assert task.mdp.num_states == 500 and task.optimal_value > 0


def test_windy_gridworld_takes_15_steps():
    # Sutton & Barto (2018), Example 6.5: the shortest path takes 15 steps.
    assert REGISTRY.make("WindyGridworld-v0").optimal_value == pytest.approx(-15.0)


def test_deep_sea_optimal_return():
    # bsuite: the optimal return is 1 - 0.01 (size moves right, each costing 0.01 / size).
    assert REGISTRY.make("DeepSea10-v0").optimal_value == pytest.approx(0.99)


def test_paper_grids_by_hand():
    # 3x3: 3 steps at -1 then +9 on entering the goal (discount 0.95); 5x5: 7 steps then +9.
    for task_id, steps in [("PaperGrid3x3-v0", 3), ("PaperGrid5x5-v0", 7)]:
        g = 0.95 ** np.arange(steps + 1)
        expected = -g[:steps].sum() + 9 * g[steps]
        assert REGISTRY.make(task_id).optimal_value == pytest.approx(expected)


def test_discounted_objective_uses_infinite_horizon_values():
    task = REGISTRY.make("PaperFrozenLake4x4-v0")
    m = task.mdp
    _, V = discounted_optimal_values(m.P, m.R, m.discount)
    assert task.optimal_value == pytest.approx(V[0])
    with pytest.raises(ValueError, match="scores stationary"):
        task.policy_value(np.full((m.horizon, m.num_states, m.num_actions), 0.25))


# Tasks whose exact values differed in their last bits between OpenBLAS kernels when they
# went through dense BLAS products (measured: 40 of 126 with the Nehalem kernel).
KERNEL_SENSITIVE = ["Bandit10-v0", "CliffWalking-v0", "GarnetS20A3B2-v0", "GarnetS50A4B5-v0",
                    "GarnetS100A6B10-v0", "Garnet-v0-s20261130-i4", "Maze-v0-s20261130-i0",
                    "WindyGrid-v0-s20261130-i0", "RiverSwim-v0-s20261130-i0", "PaperGrid5x5-v0"]
EXACT_VALUES_SCRIPT = """
import json, sys
from rlbench_icl import default_registry
reg = default_registry()
out = {}
for t in sys.argv[1:]:
    task = reg.make(t)
    out[t] = [task.optimal_value.hex(), task.random_value.hex(),
              *(float(v).hex() for v in task.return_bounds)]
print(json.dumps(out))
"""


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="OPENBLAS_CORETYPE names x86-64 kernels")
def test_exact_values_are_the_same_bits_whatever_the_blas_kernel():
    """Exact values, and so every score, must not depend on the CPU: computed under
    OpenBLAS's oldest x86-64 kernel (Nehalem, SSE only) and under the one this CPU picks,
    they are the same floats."""
    def values(env_extra):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        env.update(OMP_NUM_THREADS="1", **env_extra)
        done = subprocess.run([sys.executable, "-c", EXACT_VALUES_SCRIPT, *KERNEL_SENSITIVE],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert values({"OPENBLAS_CORETYPE": "Nehalem"}) == values({})
