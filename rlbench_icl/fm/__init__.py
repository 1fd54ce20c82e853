"""The synthetic-prior foundation model: the only part of rlbench-icl that imports torch.

In dependency order: ``context`` (statistics an agent would hold, drawn for a synthetic MDP),
``features`` (statistic -> network input, and ``FeatureConfig``: what a network reads),
``virtual`` (optimism or pessimism by a virtual outcome), ``model`` (the graph attention
network), ``prior`` (training batches and Boltzmann targets over Q*), ``train`` (the seeded,
resumable trainer) and ``policy`` (in-context inference with a trained network).
"""
