"""The same bits on every x86-64 CPU with AVX2: numpy without its AVX-512 kernels, torch
on pinned ones.

numpy chooses its kernels by the CPU when it is imported. On a CPU with AVX-512 its float64
``power``, ``exp``, ``log`` and ``log1p`` run code whose last bits differ from those every
CPU without AVX-512 gets: on this project's AMD EPYC, ``0.95 ** np.arange(200)`` differs
from the C library's ``pow`` in 8 of the 200 values (t = 21, 47, 80, ...), and q-learning's
runs on PaperFrozenLake4x4 took another action from episode 544 on. With AVX-512 switched
off, numpy takes the same kernels as on any x86-64 CPU from 2013 on (AVX2), and those runs
agree.

numpy reads ``NPY_DISABLE_CPU_FEATURES`` once, when it is imported, so the switch must be in
a process's environment before numpy starts:

- agent processes always run with it: their fork server (``rlbench_icl.sealed``) is started
  with ``pinned(environ)``, whatever the harness's environment says, so every sealed run is
  computed with the same kernels;
- importing rlbench_icl sets it for this process, if numpy is not imported yet (the CLI,
  the experiments, the tests), and for the processes it starts (loky workers of
  ``--in-process`` runs); a value already set is kept (the empty string switches nothing
  off), and so is a list of the only features numpy may use (``NPY_ENABLE_CPU_FEATURES``),
  which numpy refuses alongside.

The harness computes its own numbers without transcendental numpy calls (discounts with
Python's ``**``, exact values by sums and products), so they do not depend on the switch.
The synthetic priors (training and tuning MDPs) do call numpy's ``exp`` and ``log``: their
draws are the same bits wherever numpy runs pinned.

torch picks kernels by the CPU too, when it first needs them: MKL's matrix products (by the
CPU's maker and model), ATen's vector kernels (AVX-512 where the CPU has it) and, for the
foundation models' GELU, oneDNN's code generated for the CPU's newest instruction set. On
this project's AMD EPYC, ATen's and oneDNN's choices each changed the last bits of the
models' logits, and sampled runs then took other actions (README, "Seeds"). ``torch_pins``
names each library's switch to kernels every x86-64 CPU with AVX2 runs alike (MKL's
reproducible mode, ATen's AVX2 kernels, oneDNN capped at AVX2): agent processes always run
with them (``pinned``); ``pin_torch`` sets them for this process (a value already set is
kept), which ``rlbench_icl.fm`` does before its modules import torch; and the models run
with oneDNN off (``rlbench_icl.fm.model.pinned_kernels``), so that their GELU is ATen's.
torch fixes each choice at its first operation: in a process that used torch before
importing ``rlbench_icl.fm`` the pin comes too late, and the models say so once.
``RLBENCH_ICL_TORCH_KERNELS=native`` keeps ATen's and oneDNN's own choice in a harness
process (trainings and tuning studies begun before the pin use it to finish as they
began); agent processes never get it. ATen's pin needs Linux's CPU flags (``has_avx2``):
elsewhere only MKL's mode is set.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata

NUMPY_SWITCH = "NPY_DISABLE_CPU_FEATURES"
NUMPY_ONLY = "NPY_ENABLE_CPU_FEATURES"  # numpy refuses both at once
TORCH_SWITCH = "RLBENCH_ICL_TORCH_KERNELS"  # "avx2" (the default) or "native"
# numpy's names for its AVX-512 kernels. From 2.4 it dispatches on groups (X86_V4 is
# AVX-512); before, on single features. A name numpy does not dispatch on raises an
# ImportWarning (an error under ``-W error``), so each version gets only its own names; none
# is ever part of numpy's baseline on a standard build, which numpy would refuse to switch off.
AVX512_GROUPS = "X86_V4 AVX512_ICL AVX512_SPR"
AVX512_FEATURES = "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL"


def avx512_names(numpy_version: str | None = None) -> str:
    """The value of ``NPY_DISABLE_CPU_FEATURES`` that switches numpy's AVX-512 kernels off,
    for the installed numpy (read from its metadata, without importing it) or the given
    version."""
    if numpy_version is None:
        try:
            numpy_version = metadata.version("numpy")
        except metadata.PackageNotFoundError:
            return AVX512_GROUPS
    major, minor = (int(part) for part in re.findall(r"\d+", numpy_version)[:2])
    if (major, minor) >= (2, 4):
        return AVX512_GROUPS
    if major >= 2:
        return f"{AVX512_FEATURES} AVX512_ICL AVX512_SPR"
    return f"{AVX512_FEATURES} AVX512_ICL"


NO_AVX512 = avx512_names()


# MKL's conditional numerical reproducibility mode: COMPATIBLE is the one MKL documents as
# the same bits on CPUs of every maker. A plain product costs 1.7-2.6x (README, "Seeds").
MKL_MODE = {"MKL_CBWR": "COMPATIBLE"}
# ATen's and oneDNN's switches to their AVX2 kernels. Measured on an AMD EPYC with AVX-512,
# gnn-fm's and gnn-fm-paper's logits on 6 tasks' statistics: ATen's AVX2 kernels changed
# the last bits of 3 of 12 (all gnn-fm-paper's), oneDNN capped at AVX2 all 12 (its GELU).
# ATen takes its setting without checking the CPU, so it is named only where the CPU has
# AVX2 and FMA (torch's own test for AVX2); oneDNN's is a ceiling, and ignored off x86.
AVX2_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
# every variable that decides torch's kernels here
TORCH_VARIABLES = (TORCH_SWITCH, *MKL_MODE, *AVX2_KERNELS)


@lru_cache(maxsize=1)
def has_avx2() -> bool:
    """Whether this is an x86-64 CPU with AVX2 and FMA, as Linux reports it (elsewhere:
    False, so nothing is pinned that the CPU might lack)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        return False
    return {"avx2", "fma"} <= set(flags.split(":", 1)[-1].split())


def torch_pins() -> dict[str, str]:
    """The environment that makes torch compute the same bits on every x86-64 CPU with AVX2:
    MKL's reproducible mode, and on such a CPU ATen's and oneDNN's AVX2 kernels."""
    return {**MKL_MODE, **(AVX2_KERNELS if has_avx2() else {})}


def wants_torch_pinned(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether torch's kernels are to be pinned in this process (``TORCH_SWITCH``)."""
    value = environ.get(TORCH_SWITCH, "avx2")
    if value not in ("avx2", "native"):
        raise ValueError(f"{TORCH_SWITCH}={value!r}: use 'avx2' (the same bits on every "
                         "x86-64 CPU with AVX2, the default) or 'native' (the CPU's own)")
    return value == "avx2"


def pinned(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for an agent process: numpy's AVX-512 kernels switched off and torch's
    kernels pinned (``torch_pins``), overriding any value, without a list of the only
    features numpy may use (which numpy refuses alongside its switch) and without
    ``TORCH_SWITCH``."""
    kept = {k: v for k, v in environ.items() if k not in (NUMPY_ONLY, TORCH_SWITCH)}
    return {**kept, NUMPY_SWITCH: NO_AVX512, **torch_pins()}


def numpy_runs_avx512() -> bool:
    """Whether numpy, as loaded in this process, runs any kernel the pin switches off: it
    was imported before rlbench_icl, or the switch was set to keep them. (numpy lists a
    switched-off feature as absent.)"""
    import numpy  # noqa: F401 - loaded by now; its feature table is private but stable

    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return any(features.get(name, False) for name in NO_AVX512.split())


def pin_torch() -> None:
    """Set ``torch_pins`` for this process and the processes it starts, unless already set;
    with ``RLBENCH_ICL_TORCH_KERNELS=native``, MKL's reproducible mode only. torch reads
    them at its first operation that needs each."""
    for name, value in (torch_pins() if wants_torch_pinned() else MKL_MODE).items():
        os.environ.setdefault(name, value)


def pin_numpy() -> None:
    """Switch numpy's AVX-512 kernels off for this process (if numpy is not imported yet)
    and the processes it starts, unless ``NPY_DISABLE_CPU_FEATURES`` or
    ``NPY_ENABLE_CPU_FEATURES`` is already set (the user's choice is kept)."""
    if NUMPY_ONLY not in os.environ:
        os.environ.setdefault(NUMPY_SWITCH, NO_AVX512)


pin_numpy()  # on import: rlbench_icl/__init__.py imports this module before numpy
