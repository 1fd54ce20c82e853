"""The cost half of w256's cadence rule (README.md here, "If w256 ships"): gnn-fm-paper
reading w256's final export (``CKPT``, default experiments/paper_fm/progress/w256, where
``train.sh save`` keeps the trainer's runs/w256 export) at each candidate of the ladder,
f = 4, 8, 16, 32 with floor 1, as submissions for benchmarks/task_costs.py. Everything else
is gnn-fm-paper's.

    OMP_NUM_THREADS=1 python benchmarks/task_costs.py --tasks dev --offline "" \\
        --online ucbvi,experiments/paper_fm/cadence_w256.py::w256-f16m1 --seed S --repeat 3
"""

import os
from pathlib import Path

from rlbench_icl.tuning import refresh_variant

CKPT = Path(os.environ.get("CKPT", Path(__file__).with_name("progress") / "w256"))
LADDER = (4.0, 8.0, 16.0, 32.0)

SUBMISSIONS = [refresh_variant("gnn_fm_paper.py", f"w256-f{f:g}m1", "READING", f, 1.0, CKPT)
               for f in LADDER]
