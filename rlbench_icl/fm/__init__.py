"""The synthetic-prior foundation model (the only part of rlbench-icl that imports torch)."""
