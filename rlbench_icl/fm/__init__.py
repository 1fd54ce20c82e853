"""The synthetic-prior foundation model: the only part of rlbench-icl that imports torch.

In dependency order: ``context`` (statistics an agent would hold, drawn for a synthetic MDP),
``features`` (statistic -> network input, and ``FeatureConfig``: what a network reads),
``virtual`` (optimism or pessimism by a virtual outcome), ``model`` (the graph attention
network), ``prior`` (training batches and Boltzmann targets over Q*), ``train`` (the seeded,
resumable trainer) and ``policy`` (in-context inference with a trained network).
"""

from ..cpu import pin_torch

# torch picks its kernels by the CPU (MKL's by its maker and model: the same forward passes
# gave other last bits, and so other sampled actions, on an AMD EPYC than on the machines
# that made 0.1.0's records; ATen's and oneDNN's by its instruction sets). torch reads each
# switch at its first operation that needs it, so they are set here, before any module of
# this package imports torch (rlbench_icl/cpu.py); a value already set is kept.
pin_torch()
