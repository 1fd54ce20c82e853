"""Grid throughput by execution backend, and peak memory of a full-suite run, in one run.

1. The same grid (an agent on the ``quick`` tasks, online and offline, N seeds) through
   ``rlbench-icl run`` with loky and 1 worker, loky and 2 workers, and a 2-worker Dask
   ``LocalCluster`` (processes, loopback), and a local Ray instance where Ray is installed
   (cluster backends run each run in a fresh process). Each configuration writes into a
   fresh directory; runs/s counts the whole command (start-up included), and the result
   files of all configurations must be byte-identical.
2. Peak memory of ``rlbench-icl run --tasks full`` (one seed, 2 workers): the largest total
   resident set of the command and all its worker processes, sampled every 50 ms.

Usage: python benchmarks/bench_grid.py [--agent ucbvi] [--seeds 10] [--memory-agent ucbvi]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from tabulate import tabulate

CONFIGS = [("loky, 1 worker", ["--jobs", "1"]), ("loky, 2 workers", ["--jobs", "2"]),
           ("dask LocalCluster, 2 workers", ["--jobs", "2", "--backend", "dask"])]
if importlib.util.find_spec("ray") is not None:  # optional extra
    CONFIGS.append(("ray local, 2 workers", ["--jobs", "2", "--backend", "ray"]))


def command(agent: str, tasks: str, seeds: int, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "rlbench_icl.cli", "run", "--agent", agent, "--tasks", tasks,
            "--seeds", str(seeds), "--out", str(out), "--quiet", *extra]


def files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("seed-*.json"))}


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak total RSS (MiB) of a command and its descendants."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: cluster logs never block
        proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        peak = 0
        while proc.poll() is None:
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass  # a worker ended between listing and reading
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            log.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed: {log.read().decode()[-2000:]}")
    return seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="ucbvi")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--memory-agent", default="ucbvi")
    args = parser.parse_args()
    rows, outputs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in CONFIGS:
            out = Path(tmp) / label.replace(" ", "_").replace(",", "")
            seconds, _ = run_measured(command(args.agent, "quick", args.seeds, out, extra))
            outputs.append(files(out))
            rows.append([label, len(outputs[-1]), f"{seconds:.1f}",
                         f"{len(outputs[-1]) / seconds:.2f}"])
        identical = all(o == outputs[0] for o in outputs)
        print(f"Grid: {args.agent} on the quick tasks, {args.seeds} seeds, both protocols "
              "it supports")
        print(tabulate(rows, headers=["backend", "runs", "seconds", "runs/s"],
                       tablefmt="github"))
        print(f"result files byte-identical across backends: {identical}")
        out = Path(tmp) / "full"
        seconds, peak = run_measured(command(args.memory_agent, "full", 1, out,
                                             ["--jobs", "2"]))
        print(f"\nFull suite, {args.memory_agent}, 1 seed, 2 workers: {len(files(out))} runs "
              f"in {seconds:.1f} s; peak total RSS {peak:.0f} MiB")
    if not identical:
        raise SystemExit("backends disagree")


if __name__ == "__main__":
    main()
