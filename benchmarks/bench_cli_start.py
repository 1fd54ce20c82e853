"""Start-up time of the command line: ``rlbench-icl --help`` now, against the eager imports it
had before (issue 23's goal: under 0.5 s).

Each command runs ``--repeats`` times in a fresh interpreter (``sys.executable``, so no
pyenv shim or wrapper script is timed), after one warm-up that writes the bytecode caches a
normal install has. It prints the median wall time and the median CPU time of the child
(user + system): the CPU time is the one to trust on a busy machine.

- ``python -c pass``: the interpreter alone, the floor;
- ``import rlbench_icl``: the package, which registers every task with gymnasium (so numpy
  and gymnasium are always paid);
- ``rlbench-icl --help``: the command line now; every command imports what it needs when it
  runs;
- previous: what ``--help`` imported before: the same plus scipy.sparse (through the
  dynamic-programming module), joblib (the backends), tabulate and the submissions' loader.
- ``rlbench-icl run`` of one stored run (reused, so start-up, planning and the summary are
  timed, not the run), against the same command with scipy.stats imported first, as its
  summary's IQM did before (``scoring.iqm`` now, numpy only).

Usage: python benchmarks/bench_cli_start.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PREVIOUS = ("import scipy.sparse.linalg, joblib, tabulate; "
            "import rlbench_icl.discovery, rlbench_icl.conformance, rlbench_icl.backends; "
            "from rlbench_icl.cli import main; main(['--help'])")

COMMANDS = {
    "python -c pass (floor)": ["-c", "pass"],
    "import rlbench_icl": ["-c", "import rlbench_icl"],
    "rlbench-icl --help (now)": ["-m", "rlbench_icl.cli", "--help"],
    "previous eager imports + --help": ["-c", PREVIOUS],
}


def run_commands(out: str) -> dict[str, list[str]]:
    """``run`` of one reused run into ``out``, now and with the summary's former import."""
    run = ["run", "--agent", "random", "--tasks", "Bandit10-v0", "--seeds", "1", "--jobs",
           "1", "--quiet", "--out", out]
    return {"run, 1 reused run (now)": ["-m", "rlbench_icl.cli", *run],
            "run + scipy.stats (before)": [
                "-c", f"import scipy.stats; from rlbench_icl.cli import main; "
                      f"raise SystemExit(main({run!r}))"]}


def timed(args: list[str], env: dict) -> tuple[float, float]:
    """Wall and child CPU seconds of one interpreter running ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's install keeps its .pyc files
    print(f"load average {os.getloadavg()[0]:.1f}, {args.repeats} runs each, medians")
    print(f"{'command':34} {'wall s':>7} {'CPU s':>7}")
    out = tempfile.mkdtemp(prefix="bench-cli-start-")
    for name, command in {**COMMANDS, **run_commands(out)}.items():
        timed(command, env)  # warm-up: bytecode caches, file-system caches
        walls, cpus = zip(*(timed(command, env) for _ in range(args.repeats)), strict=True)
        print(f"{name:34} {statistics.median(walls):7.3f} {statistics.median(cpus):7.3f}")
    shutil.rmtree(out)


if __name__ == "__main__":
    main()
