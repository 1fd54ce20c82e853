"""Results do not depend on the CPU's vector units (rlbench_icl/cpu.py): agent processes run
numpy without its AVX-512 kernels, and the harness computes its numbers without them.

On a CPU without AVX-512 these tests cannot fail: numpy takes the same kernels either way.
On one with it (this project's machines) each fails without the mechanism it tests."""

import os
import subprocess
import sys

from rlbench_icl.cpu import (
    AVX512_GROUPS,
    NO_AVX512,
    NUMPY_ONLY,
    NUMPY_SWITCH,
    avx512_names,
    pinned,
)

POWERS_AGENT = '''
import math

import numpy as np

from rlbench_icl import Submission


class Powers:
    """Acts 0; raises if numpy's float64 powers are not the C library's."""

    def __init__(self, info, rng):
        mine = 0.95 ** np.arange(200)
        wrong = [t for t in range(200) if mine[t] != math.pow(0.95, t)]
        if wrong:
            raise RuntimeError(f"numpy's powers differ from pow at t = {wrong}")

    def act(self, state, step):
        return 0

    def observe(self, *transition):
        pass

    def end_episode(self):
        pass


SUBMISSION = Submission(name="powers", version="1", make_online_agent=Powers)
'''


def _without_switch() -> dict[str, str]:
    """This process's environment without ``NPY_DISABLE_CPU_FEATURES``."""
    return {k: v for k, v in os.environ.items() if k != NUMPY_SWITCH}


def _cli(args: list[str], switch: str | None) -> subprocess.CompletedProcess:
    """``rlbench-icl ARGS`` in a fresh interpreter whose environment sets the switch to
    ``switch`` (None: unset)."""
    env = _without_switch()
    if switch is not None:
        env[NUMPY_SWITCH] = switch
    return subprocess.run([sys.executable, "-m", "rlbench_icl.cli", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_pinned_numpy_computes_powers_as_the_c_library_does():
    """What the pin is for: numpy's powers are then the C library's on any CPU."""
    script = ("import math, numpy as np; a = 0.95 ** np.arange(200); "
              "print(sum(a[t] != math.pow(0.95, t) for t in range(200)))")
    env = _without_switch()

    def differing(switch):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True,
                              text=True, env={**env, NUMPY_SWITCH: switch}, timeout=60)
        assert done.returncode == 0, done.stderr
        return int(done.stdout)

    assert differing(NO_AVX512) == 0  # 8 without the switch on AVX-512 CPUs (t = 21, ...)


def test_agent_processes_run_numpy_without_avx512_whatever_the_harness_environment(
        tmp_path):
    agent = tmp_path / "powers.py"
    agent.write_text(POWERS_AGENT)
    for switch in (None, ""):  # unset, and set to switch nothing off
        out = tmp_path / f"out-{switch!r}"
        done = _cli(["run", "--agent", str(agent), "--tasks", "RiverSwim6-v0", "--seeds",
                     "1", "--episodes", "2", "--protocol", "online", "--jobs", "1",
                     "--quiet", "--out", str(out)], switch)
        assert done.returncode == 0, done.stdout + done.stderr


CHAIN_RUN = """
import numpy as np
from rlbench_icl import OnlineSettings, Submission, TabularMDP
from rlbench_icl.protocols import run_online
from rlbench_icl.tuning import synthetic_task

S = 23  # a chain: the one reward, 1, comes on entering its end at step t = 21
P = np.zeros((S, 1, S))
P[np.arange(S - 1), 0, np.arange(1, S)] = 1.0
P[S - 1, 0, S - 1] = 1.0
R = np.zeros((S, 1))
R[S - 2, 0] = 1.0
terminal = np.zeros(S, bool)
terminal[S - 1] = True
mdp = TabularMDP(P=P, R=R, mu0=np.eye(S)[0], horizon=30, discount=0.95, terminal=terminal)


class Walker:
    def __init__(self, info, rng):
        pass

    def act(self, state, step):
        return 0

    def observe(self, *transition):
        pass

    def end_episode(self):
        pass


walker = Submission(name="walker", version="1", make_online_agent=Walker)
out = run_online(synthetic_task(mdp, 0), walker, OnlineSettings(1), seed=0)
print(repr(out["episodes"]["returns"][0]))
"""


def test_discounted_returns_do_not_depend_on_numpy_kernels():
    """The harness weights a reward at step t by gamma ** t from Python's ``**`` (the C
    library's pow). numpy's AVX-512 power gives another last bit at t = 21 for gamma = 0.95,
    so a return made of that one reward shows which one the harness used, even in a process
    where numpy runs with AVX-512 (the switch set to the empty string)."""
    env = _without_switch()
    done = subprocess.run([sys.executable, "-c", CHAIN_RUN], capture_output=True, text=True,
                          env={**env, NUMPY_SWITCH: ""}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == 0.95 ** 21


def test_importing_rlbench_icl_pins_numpy_for_the_processes_it_starts():
    script = ("import os, rlbench_icl; "
              f"print(os.environ.get({NUMPY_SWITCH!r}))")
    env = _without_switch()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.stdout.strip() == NO_AVX512
    kept = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**env, NUMPY_SWITCH: "AVX512_SPR"}, timeout=60)
    assert kept.stdout.strip() == "AVX512_SPR"  # a value already set is kept


def test_the_switch_names_only_what_each_numpy_dispatches_on():
    """numpy 2.4 dispatches on groups, earlier numpy on features; a name it does not know
    raises an ImportWarning, an error under ``-W error``."""
    assert avx512_names("2.4.6") == avx512_names("2.5.0") == AVX512_GROUPS
    assert "X86_V4" not in avx512_names("2.2.6") and "AVX512_SPR" in avx512_names("2.2.6")
    assert "AVX512F" in avx512_names("1.26.4") and "AVX512_SPR" not in avx512_names("1.26.4")
    env = _without_switch()
    done = subprocess.run([sys.executable, "-W", "error", "-c", "import rlbench_icl, numpy"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_list_of_the_only_features_to_use_is_kept_and_never_sent_to_agents():
    """numpy refuses NPY_ENABLE_CPU_FEATURES and NPY_DISABLE_CPU_FEATURES together: import
    keeps the user's list, and the agents' fork server gets the switch alone."""
    env = _without_switch()
    done = subprocess.run([sys.executable, "-c", "import rlbench_icl, numpy"],
                          capture_output=True, text=True, env={**env, NUMPY_ONLY: "X86_V3"},
                          timeout=60)
    assert done.returncode == 0, done.stderr
    agents = pinned({NUMPY_ONLY: "X86_V3", "HOME": "/home/x"})
    assert agents == {"HOME": "/home/x", NUMPY_SWITCH: NO_AVX512}
