"""gnn-fm-paper's w64 network (``progress/w64``: release 1 and 1.1's checkpoint, kept there
whichever scale ships) read with a cheaper cadence, as submissions for
benchmarks/task_costs.py: the cost half of the cadence rule (README.md here, "What it costs
online"). ``gnn-fm-paper-f4`` re-reads once a pair visited since the last reading has 4 times
its count then (a first visit counts: floor 0); ``gnn-fm-paper-f4m1`` once it has 4 times the
larger of that count and 1 (a new pair counts at its fourth visit: floor 1). Everything else
is gnn-fm-paper's.

    OMP_NUM_THREADS=1 python benchmarks/task_costs.py --tasks dev --offline "" \\
        --online ucbvi,experiments/paper_fm/cadence.py::gnn-fm-paper-f4m1 --seed S --repeat 3
"""

from pathlib import Path

from rlbench_icl.tuning import refresh_variant

W64 = Path(__file__).with_name("progress") / "w64"  # not the shipped one: release 2 swaps it

SUBMISSIONS = [
    refresh_variant("gnn_fm_paper.py", "gnn-fm-paper-f4", "READING", 4.0, 0.0, W64),
    refresh_variant("gnn_fm_paper.py", "gnn-fm-paper-f4m1", "READING", 4.0, 1.0, W64),
]
