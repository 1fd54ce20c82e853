"""The synthetic-prior foundation model: the only part of rlbench-icl that imports torch.

In dependency order: ``context`` (statistics an agent would hold, drawn for a synthetic MDP),
``features`` (statistic -> network input, and ``FeatureConfig``: what a network reads),
``virtual`` (optimism or pessimism by a virtual outcome), ``model`` (the graph attention
network), ``prior`` (training batches and Boltzmann targets over Q*), ``train`` (the seeded,
resumable trainer) and ``policy`` (in-context inference with a trained network).
"""

import os

from ..cpu import MKL_MODE, torch_pinned, torch_pins

# torch picks its kernels by the CPU: MKL's by the CPU's maker and model (the same forward
# passes gave other last bits, and so other sampled actions, on an AMD EPYC than on the
# machines that made 0.1.0's records: 4 of 6 gnn-fm runs differed), ATen's and oneDNN's by
# its instruction sets. Each reads its switch when it first runs, so they are set here,
# before any module of this package imports torch (rlbench_icl/cpu.py); a value already set
# is kept. MKL's reproducible mode is kept even with RLBENCH_ICL_TORCH_KERNELS=native.
for _name, _value in (torch_pins() if torch_pinned() else MKL_MODE).items():
    os.environ.setdefault(_name, _value)

