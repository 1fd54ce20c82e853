"""The synthetic-prior foundation model: the only part of rlbench-icl that imports torch.

In dependency order: ``context`` (statistics an agent would hold, drawn for a synthetic MDP),
``features`` (statistic -> network input, and ``FeatureConfig``: what a network reads),
``virtual`` (optimism or pessimism by a virtual outcome), ``model`` (the graph attention
network), ``prior`` (training batches and Boltzmann targets over Q*), ``train`` (the seeded,
resumable trainer) and ``policy`` (in-context inference with a trained network).
"""

import os

# MKL, torch's CPU BLAS, picks its kernels by the CPU's maker and model: the same forward
# passes gave other last bits, and so other sampled actions, on an AMD EPYC than on the
# machines that made 0.1.0's records (4 of 6 gnn-fm runs differed). In its conditional
# numerical reproducibility mode every x86-64 CPU gets the same bits (and the records were
# reproduced). MKL reads it when it starts, so it is set here, before any module of this
# package imports torch; a value already set is kept.
os.environ.setdefault("MKL_CBWR", "COMPATIBLE")

