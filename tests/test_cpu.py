"""Results do not depend on the CPU's vector units (rlbench_icl/cpu.py): agent processes run
numpy without its AVX-512 kernels and torch on its AVX2 ones, and the harness computes its
numbers without them.

On a CPU without AVX-512 most of these tests cannot fail: numpy and torch take the same
kernels either way. On one with it (this project's machines) each fails without the
mechanism it tests."""

import builtins
import io
import os
import platform
import subprocess
import sys

import pytest

from rlbench_icl.cpu import (
    AVX2_KERNELS,
    AVX512_GROUPS,
    MKL_MODE,
    NO_AVX512,
    NUMPY_ONLY,
    NUMPY_SWITCH,
    TORCH_SWITCH,
    TORCH_VARIABLES,
    avx512_names,
    has_avx2,
    pinned,
    torch_pins,
    wants_torch_pinned,
)

needs_avx2 = pytest.mark.skipif(not has_avx2(), reason="torch is pinned only on x86-64 with AVX2")
# what a user's environment might say: torch's newest kernels
UNPINNED_TORCH = {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "ALL",
                  "MKL_CBWR": "AUTO", TORCH_SWITCH: "native"}

CHECKED_AGENT = '''
from rlbench_icl import Submission


class Checked:
    """Acts 0, after ``check()`` (which raises if its kernels are not the pinned ones)."""

    def __init__(self, info, rng):
        check()

    def act(self, state, step):
        return 0

    def observe(self, *transition):
        pass

    def end_episode(self):
        pass


SUBMISSION = Submission(name="checked", version="1", make_online_agent=Checked)
'''

POWERS_AGENT = '''
import math

import numpy as np


def check():
    """Raises if numpy's float64 powers are not the C library's."""
    mine = 0.95 ** np.arange(200)
    wrong = [t for t in range(200) if mine[t] != math.pow(0.95, t)]
    if wrong:
        raise RuntimeError(f"numpy's powers differ from pow at t = {wrong}")
''' + CHECKED_AGENT

TORCH_AGENT = '''
import os

import torch


def check():
    """Raises unless torch runs its AVX2 kernels, oneDNN's and MKL's pinned too."""
    seen = (torch.backends.cpu.get_cpu_capability(), os.environ.get("ONEDNN_MAX_CPU_ISA"),
            os.environ.get("MKL_CBWR"))
    if seen != ("AVX2", "AVX2", "COMPATIBLE"):
        raise RuntimeError(f"torch's kernels are not pinned: {seen}")
''' + CHECKED_AGENT


def _without_switch() -> dict[str, str]:
    """This process's environment without ``NPY_DISABLE_CPU_FEATURES``."""
    return {k: v for k, v in os.environ.items() if k != NUMPY_SWITCH}


def _without_torch_switches() -> dict[str, str]:
    """This process's environment without any variable that decides torch's kernels."""
    return {k: v for k, v in os.environ.items() if k not in TORCH_VARIABLES}


def _cli(args: list[str], switch: str | None, **extra: str) -> subprocess.CompletedProcess:
    """``rlbench-icl ARGS`` in a fresh interpreter whose environment sets the switch to
    ``switch`` (None: unset), and the variables ``extra``."""
    env = _without_switch()
    if switch is not None:
        env[NUMPY_SWITCH] = switch
    return subprocess.run([sys.executable, "-m", "rlbench_icl.cli", *args],
                          capture_output=True, text=True, env={**env, **extra}, timeout=600)


def _run_agent(tmp_path, source: str, switch: str | None, **extra: str
               ) -> subprocess.CompletedProcess:
    """A two-episode sealed run of the agent in ``source`` on RiverSwim6."""
    agent = tmp_path / "agent.py"
    agent.write_text(source)
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
    return _cli(["run", "--agent", str(agent), "--tasks", "RiverSwim6-v0", "--seeds", "1",
                 "--episodes", "2", "--protocol", "online", "--jobs", "1", "--quiet",
                 "--out", str(out)], switch, **extra)


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
    for switch in (None, ""):  # unset, and set to switch nothing off
        done = _run_agent(tmp_path, POWERS_AGENT, switch)
        assert done.returncode == 0, done.stdout + done.stderr


@needs_avx2
def test_agent_processes_run_torch_on_avx2_kernels_whatever_the_harness_environment(
        tmp_path):
    done = _run_agent(tmp_path, TORCH_AGENT, None, **UNPINNED_TORCH)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_avx2
def test_importing_the_model_pins_torch_for_its_process():
    """Training, tuning and in-process runs: ``rlbench_icl.fm`` sets the switches before
    torch starts, and keeps a user's."""
    script = ("import os, rlbench_icl.fm, torch; print(torch.backends.cpu.get_cpu_capability(),"
              " os.environ['ONEDNN_MAX_CPU_ISA'], os.environ['MKL_CBWR'])")
    env = _without_torch_switches()

    def seen(extra):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env={**env, **extra}, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert seen({}) == ["AVX2", "AVX2", "COMPATIBLE"]
    assert seen({"ATEN_CPU_CAPABILITY": "default"})[0] == "DEFAULT"


LOGITS = """
import hashlib
import numpy as np
from rlbench_icl import default_registry
from rlbench_icl.contract import TaskInfo
from rlbench_icl.experience import ExperienceStatistic
from rlbench_icl.fm.policy import Reading, load_network, policy_logits
from rlbench_icl.simulate import Simulator
from rlbench_icl.discovery import SUBMISSIONS_DIR

task = default_registry().make({task!r})
mdp, rng = task.mdp, np.random.default_rng(0)
simulator, stat = Simulator(mdp, rng), ExperienceStatistic(mdp.num_states, mdp.num_actions)
for episode in range(30):
    state = simulator.reset()
    for step in range(mdp.horizon):
        action = int(rng.integers(mdp.num_actions))
        reward, after, done = simulator.step(state, action)
        stat.update(state, action, reward, after, done)
        state = after
        if done:
            break
network = load_network(SUBMISSIONS_DIR / {checkpoint!r})
logits = policy_logits(network, TaskInfo.from_task(task, 100), stat, Reading())
print(hashlib.sha256(logits.tobytes()).hexdigest())
"""


def _logits(task: str, checkpoint: str, **extra: str) -> str:
    """The hash of a model's logits on 30 random episodes of ``task``, in a fresh process
    whose torch switches are only ``extra``."""
    env = _without_torch_switches()
    done = subprocess.run([sys.executable, "-c", LOGITS.format(task=task, checkpoint=checkpoint)],
                          capture_output=True, text=True,
                          env={**env, "OMP_NUM_THREADS": "1", **extra}, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_models_logits_do_not_depend_on_onednns_kernels():
    """oneDNN computes the GELU with code for the CPU's instruction set; the models run
    without it (pinned_kernels), so capping it changes no bit. With oneDNN on, capping it at
    AVX2 changed these logits on an AMD EPYC with AVX-512."""
    hashes = {_logits("DeepSea10-v0", "gnn_fm_checkpoint", ONEDNN_MAX_CPU_ISA=isa)
              for isa in ("ALL", "AVX2", "SSE41")}
    assert len(hashes) == 1


@needs_avx2
def test_the_models_logits_are_atens_avx2_kernels_by_default():
    """ATen's AVX-512 kernels give gnn-fm-paper other logits on RiverSwim6 than its AVX2
    ones (on a CPU with AVX-512); by default the models compute with the AVX2 ones."""
    pinned_hash = _logits("RiverSwim6-v0", "gnn_fm_paper_checkpoint")
    assert pinned_hash == _logits("RiverSwim6-v0", "gnn_fm_paper_checkpoint",
                                  ATEN_CPU_CAPABILITY="avx2")


@needs_avx2
def test_a_model_warns_when_torch_ran_before_the_pin():
    script = ("import warnings, torch; torch.ones(3).exp(); import rlbench_icl.fm.model as m\n"
              "with warnings.catch_warnings(record=True) as seen:\n"
              "    warnings.simplefilter('always')\n"
              "    with m.pinned_kernels(): pass\n"
              "print(torch.backends.cpu.get_cpu_capability(), len(seen))")
    env = _without_torch_switches()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    capability, warned = done.stdout.split()
    assert int(warned) == (capability != "AVX2")  # "AVX512 1" on this project's machines


def test_native_torch_kernels_are_a_harness_choice_and_a_bad_value_is_named():
    assert wants_torch_pinned({}) and wants_torch_pinned({TORCH_SWITCH: "avx2"})
    assert not wants_torch_pinned({TORCH_SWITCH: "native"})
    with pytest.raises(ValueError, match="RLBENCH_ICL_TORCH_KERNELS='avx512'.*'native'"):
        wants_torch_pinned({TORCH_SWITCH: "avx512"})
    script = ("import os, rlbench_icl.fm, torch; from rlbench_icl.fm.model import pinned_kernels\n"
              "with pinned_kernels(): on = torch.backends.mkldnn.enabled\n"
              "print(on, os.environ.get('ONEDNN_MAX_CPU_ISA'), os.environ['MKL_CBWR'])")
    env = _without_torch_switches()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**env, TORCH_SWITCH: "native"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "None", "COMPATIBLE"]  # MKL's mode is kept


@pytest.mark.parametrize("machine, cpuinfo, expected", [
    ("x86_64", "vmx flags\t: ept\nflags\t\t: sse2 avx avx2 fma\n", True),
    ("x86_64", "flags\t\t: sse2 avx avx2\n", False),  # AVX2 without FMA
    ("x86_64", "processor\t: 0\n", False),  # no flags line
    ("x86_64", FileNotFoundError, False),  # no /proc (not Linux)
    ("x86_64", PermissionError, False),
    ("AMD64", FileNotFoundError, False),  # Windows
    ("aarch64", "flags\t\t: avx2 fma\n", False),  # not x86
])
def test_avx2_is_read_from_linuxs_cpu_flags_and_nothing_is_assumed_elsewhere(
        monkeypatch, machine, cpuinfo, expected):
    def fake_open(path, *args, **kwargs):
        assert path == "/proc/cpuinfo"
        if isinstance(cpuinfo, type):
            raise cpuinfo(path)
        return io.StringIO(cpuinfo)

    monkeypatch.setattr(platform, "machine", lambda: machine)
    monkeypatch.setattr(builtins, "open", fake_open)
    has_avx2.cache_clear()
    try:
        assert has_avx2() is expected
    finally:
        monkeypatch.undo()
        has_avx2.cache_clear()
    assert torch_pins() == ({**MKL_MODE, **AVX2_KERNELS} if has_avx2() else MKL_MODE)


def test_agents_get_torch_pinned_whatever_the_harness_environment_says():
    agents = pinned({**UNPINNED_TORCH, "HOME": "/home/x"})
    assert agents == {"HOME": "/home/x", NUMPY_SWITCH: NO_AVX512, **torch_pins()}
    assert agents["MKL_CBWR"] == "COMPATIBLE" and TORCH_SWITCH not in agents


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


IN_PROCESS_RUN = """
import warnings
{imports}
from rlbench_icl.api import evaluate
from rlbench_icl.cpu import numpy_runs_avx512
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    evaluate("random", tasks="RiverSwim6-v0", seeds=1, in_process=True, progress=False,
             protocols=("online",))
print(numpy_runs_avx512(), any("AVX-512" in str(w.message) for w in seen))
"""


def test_an_in_process_run_warns_if_numpy_was_imported_first_with_avx512_kernels():
    """Sealed runs are pinned whatever the harness did; an in-process run computes with the
    harness's numpy, so it says when that numpy runs AVX-512 kernels (on a CPU without
    them, numpy imported first runs none, and nothing is said)."""
    env = _without_switch()

    def run(imports):
        done = subprocess.run([sys.executable, "-c", IN_PROCESS_RUN.format(imports=imports)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    avx512, warned = run("import numpy, rlbench_icl")
    assert warned == avx512  # "True True" on this project's machines
    assert run("import rlbench_icl, numpy") == ["False", "False"]


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
    assert agents == {"HOME": "/home/x", NUMPY_SWITCH: NO_AVX512, **torch_pins()}
