"""How wide the test suite's IQM intervals are when a family's instances, not its (instance,
seed) cells, are the units resampled. Measured at stop 32 on the leaderboard then
committed; the leaderboard has drawn instances whole since (``rlbench_icl.leaderboard.
heldout.instance_bootstrap``), so the "cells" column is the method it replaced.

The leaderboard's test ranking treated a family as a stratum and its 8 instances x 3 seeds
as 24 runs drawn independently. The instances are the
random draws the test suite generalises over, and the seeds of one instance are not
independent of each other, so resampling cells may understate the uncertainty. This script
recomputes every submission's test IQM interval both ways from the committed long table
(``leaderboard/scores.csv``), with the same percentile bootstrap (2,000 resamples, 95%):

- cells: every (instance, seed) cell of a family drawn independently (the leaderboard's);
- instances: a family's instances drawn with replacement, each with all of its seeds.

    python experiments/test_ci/clusters.py > experiments/test_ci/clusters.txt
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from tabulate import tabulate

from rlbench_icl import default_registry
from rlbench_icl.families import INSTANCE_ID
from rlbench_icl.scoring import iqm

ROOT = Path(__file__).resolve().parents[2]
RESAMPLES, SEED = 2000, 0


def test_cells(path: Path) -> dict[tuple[str, str], dict[tuple[str, int, int], float]]:
    """{(protocol, submission): {(family, instance, seed): run score}} on the test suite's
    instances; an offline run's score is the mean of its cells, as the leaderboard's."""
    test = set(default_registry().select("test"))
    runs: dict = defaultdict(lambda: defaultdict(list))
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            match = INSTANCE_ID.match(row["task"])
            if row["task"] not in test or row["status"] != "ok":
                continue
            key = (match["family"], int(re.search(r"-i(\d+)$", row["task"])[1]),
                   int(row["seed"]))
            runs[(row["protocol"], row["submission"])][key].append(float(row["score"]))
    return {k: {cell: float(np.mean(v)) for cell, v in cells.items()}
            for k, cells in runs.items()}


def cube(cells: dict[tuple[str, int, int], float]) -> np.ndarray:
    """(instances, seeds, families) scores."""
    families, instances, seeds = (sorted({c[i] for c in cells}) for i in range(3))
    out = np.full((len(instances), len(seeds), len(families)), np.nan)
    for (f, i, s), v in cells.items():
        out[instances.index(i), seeds.index(s), families.index(f)] = v
    if np.isnan(out).any():
        raise ValueError("every family needs every instance and seed")
    return out


def intervals(scores: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """95% percentile intervals of the IQM: cells resampled, then instances resampled."""
    n_inst, n_seed, n_fam = scores.shape
    rng = np.random.default_rng(SEED)
    flat = scores.reshape(n_inst * n_seed, n_fam)
    rows = rng.integers(0, len(flat), size=(RESAMPLES, len(flat), n_fam))
    by_cell = iqm(np.take_along_axis(flat[None], rows, axis=1))
    picks = rng.integers(0, n_inst, size=(RESAMPLES, n_inst, n_fam))
    whole = scores[picks, :, np.arange(n_fam)]  # (resamples, instances, families, seeds)
    by_instance = iqm(np.moveaxis(whole, 3, 2).reshape(RESAMPLES, n_inst * n_seed, n_fam))
    return (tuple(np.percentile(by_cell, [2.5, 97.5])),
            tuple(np.percentile(by_instance, [2.5, 97.5])))


def main() -> None:
    rows = []
    for (protocol, name), cells in sorted(test_cells(ROOT / "leaderboard/scores.csv").items()):
        scores = cube(cells)
        (a, b), (c, d) = intervals(scores)
        point = float(iqm(scores.reshape(-1, scores.shape[2])))
        rows.append([protocol, name, f"{point:.3f}", f"[{a:.3f}, {b:.3f}]",
                     f"[{c:.3f}, {d:.3f}]", f"{(d - c) / (b - a):.2f}" if b > a else "-"])
    print(f"Test IQM and its 95% interval ({RESAMPLES} resamples, seed {SEED}), two ways; "
          "from leaderboard/scores.csv")
    print(tabulate(rows, headers=["protocol", "submission", "IQM", "cells resampled",
                                  "instances resampled", "width ratio"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
