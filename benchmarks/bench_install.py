"""Install time and size of the core, against the named alternative: the core with every
runtime extra (``.[fm,plots]``: the foundation model's torch and the figures' matplotlib),
which is what a plain ``pip install -e .`` pulled in before the extras were split out.

Each variant is installed into a fresh venv in a temporary directory, from this checkout
(editable, as the README says), with pip's cache as it is on this machine (a first install
on a new machine also downloads). Size: the whole venv (``du``-style, every file once).
Issue 21's goal for the core: under 60 s and under 300 MB.

Usage: python benchmarks/bench_install.py [--variants core,all]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {"core": ".", "all": ".[fm,plots]"}


def tree_size(root: Path) -> int:
    """Bytes of every regular file under ``root``, hard links counted once."""
    seen, total = set(), 0
    for directory, _, files in os.walk(root):
        for name in files:
            stat = os.lstat(os.path.join(directory, name))
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def install(spec: str) -> tuple[float, int, int]:
    """Seconds to create the venv and install ``spec``; venv bytes; site-packages count."""
    with tempfile.TemporaryDirectory(prefix="rlbench-icl-install-") as tmp:
        env_dir = Path(tmp) / "venv"
        start = time.perf_counter()
        venv.create(env_dir, with_pip=True)
        subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", "-e", spec],
                       cwd=ROOT, check=True)
        seconds = time.perf_counter() - start
        site = next((env_dir / "lib").glob("python3*/site-packages"))
        return seconds, tree_size(env_dir), len([p for p in site.iterdir()
                                                 if p.suffix == ".dist-info"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="core,all")
    args = parser.parse_args()
    rows = []
    for name in args.variants.split(","):
        seconds, size, packages = install(VARIANTS[name])
        rows.append([name, f"pip install -e '{VARIANTS[name]}'", f"{seconds:.1f}",
                     f"{size / 2**20:.0f}", packages])
        print(f"{name}: {seconds:.1f} s, {size / 2**20:.0f} MiB", file=sys.stderr)
    print(tabulate(rows, headers=["variant", "command", "seconds", "MiB", "packages"]))


if __name__ == "__main__":
    main()
