"""gnn-fm-paper (the shipped checkpoint) read with gnn-fm 6.1's cadence, as a submission for
benchmarks/task_costs.py: the cost half of the cadence rule (README.md here, "What it costs
online"). ``gnn-fm-paper-f4`` re-reads once a pair visited since the last reading has 4 times
its count then (a first visit counts); everything else is gnn-fm-paper's.

    OMP_NUM_THREADS=1 python benchmarks/task_costs.py --tasks dev --offline "" \\
        --online ucbvi,experiments/paper_fm/cadence.py::gnn-fm-paper-f4 --seed S --repeat 3
"""

from rlbench_icl.tuning import refresh_variant

SUBMISSION = refresh_variant("gnn_fm_paper.py", "gnn-fm-paper-f4", "READING", 4.0, 0.0)
