"""The same bits on every x86-64 CPU with AVX2: numpy without its AVX-512 kernels.

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
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import metadata

NUMPY_SWITCH = "NPY_DISABLE_CPU_FEATURES"
NUMPY_ONLY = "NPY_ENABLE_CPU_FEATURES"  # numpy refuses both at once
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


def pinned(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with numpy's AVX-512 kernels switched off (overriding any value, and
    dropping a list of the only features to use, which numpy refuses alongside)."""
    kept = {k: v for k, v in environ.items() if k != NUMPY_ONLY}
    return {**kept, NUMPY_SWITCH: NO_AVX512}


def pin_numpy() -> None:
    """Switch numpy's AVX-512 kernels off for this process (if numpy is not imported yet)
    and the processes it starts, unless ``NPY_DISABLE_CPU_FEATURES`` or
    ``NPY_ENABLE_CPU_FEATURES`` is already set (the user's choice is kept)."""
    if NUMPY_ONLY not in os.environ:
        os.environ.setdefault(NUMPY_SWITCH, NO_AVX512)


pin_numpy()  # on import: rlbench_icl/__init__.py imports this module before numpy
