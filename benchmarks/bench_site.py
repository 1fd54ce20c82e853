"""Regeneration time of the committed leaderboard: tables alone, then with the figure set,
then with the static site, in one run on one core.

Three builds from ``leaderboard/results`` (into temporary directories), each timed whole
(wall and CPU seconds):

1. tables only (``build_leaderboard(..., figures=False)``): reading and rescoring every
   result file, the bootstrap, every CSV and Markdown table and ``scores.csv`` — the
   alternative the figures and site are measured against;
2. tables + figures (PNG, PDF and SVG of every figure);
3. tables + figures + site (``--html``).

The figure set's cost is (2) - (1), the site's (3) - (2). Goal (issue 22): figures + site
under 30 s on one core for the committed results. BLAS threads are pinned to one.

Usage: python benchmarks/bench_site.py [--results DIR] [--resamples N]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before numpy is imported

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from rlbench_icl import default_registry  # noqa: E402
from rlbench_icl.leaderboard import build_leaderboard  # noqa: E402
from rlbench_icl.scoring import BootstrapConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def timed(results: Path, bootstrap: BootstrapConfig, figures: bool, site: bool
          ) -> tuple[float, float]:
    """(wall, CPU) seconds of one build into a fresh directory."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        wall, cpu = time.perf_counter(), time.process_time()
        build_leaderboard(results, out, default_registry(), bootstrap, test_suite="test",
                          figures=figures, html_dir=out if site else None)
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "leaderboard" / "results")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    bootstrap = BootstrapConfig(resamples=args.resamples)
    files = sum(1 for _ in args.results.rglob("seed-*.json*"))
    print(f"{files} result files, {args.resamples} resamples, one core")
    rows = [("tables only", *timed(args.results, bootstrap, False, False)),
            ("tables + figures", *timed(args.results, bootstrap, True, False)),
            ("tables + figures + site", *timed(args.results, bootstrap, True, True))]
    for name, wall, cpu in rows:
        print(f"{name:<26} {wall:7.1f} s wall {cpu:7.1f} s CPU")
    (_, w1, c1), (_, w2, c2), (_, w3, c3) = rows
    print(f"{'figures (2 - 1)':<26} {w2 - w1:7.1f} s wall {c2 - c1:7.1f} s CPU")
    print(f"{'site (3 - 2)':<26} {w3 - w2:7.1f} s wall {c3 - c2:7.1f} s CPU")
    print(f"{'figures + site (3 - 1)':<26} {w3 - w1:7.1f} s wall {c3 - c1:7.1f} s CPU "
          f"(goal: under 30 s)")


if __name__ == "__main__":
    main()
