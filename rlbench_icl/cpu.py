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
- importing rlbench_icl sets it for this process, if numpy is not imported yet (the CLI),
  and for the processes it starts (loky workers of ``--in-process`` runs); a value already
  set is kept, and the empty string switches nothing off.

The harness itself computes its numbers without transcendental numpy calls (discounts with
Python's ``**``, exact values by sums and products), so they do not depend on the switch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

NUMPY_SWITCH = "NPY_DISABLE_CPU_FEATURES"
# numpy 2 dispatches on groups of features (X86_V4 is AVX-512), numpy 1 on features. Each
# ignores the other's names, with an ImportWarning hidden by default, so one value serves
# both. None of them is ever part of numpy's baseline, which numpy would refuse to switch off.
NO_AVX512 = ("X86_V4 AVX512_ICL AVX512_SPR "
             "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL")


def pinned(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with numpy's AVX-512 kernels switched off (overriding any value)."""
    return {**environ, NUMPY_SWITCH: NO_AVX512}


def pin_numpy() -> None:
    """Switch numpy's AVX-512 kernels off for this process (if numpy is not imported yet)
    and the processes it starts, unless ``NPY_DISABLE_CPU_FEATURES`` is already set."""
    os.environ.setdefault(NUMPY_SWITCH, NO_AVX512)


pin_numpy()  # on import: rlbench_icl/__init__.py imports this module before numpy
