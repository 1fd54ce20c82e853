"""What pinning torch's kernels costs (rlbench_icl/cpu.py), in one run: the two foundation
models' policy refresh (``policy_logits``) at S = 16, 64, 500, a few training steps of the
paper design's smallest config and a plain float32 matrix product (what a third-party agent
built on torch pays), each timed in a fresh interpreter with the pin (the default: ATen's
AVX2 kernels, MKL's reproducible mode, models without oneDNN) and, as the named
alternatives, with ATen's and oneDNN's own choice (``RLBENCH_ICL_TORCH_KERNELS=native``,
MKL's mode kept), with nothing pinned (also ``MKL_CBWR=AUTO``) and with MKL's AVX2 branch
(``MKL_CBWR=AVX2``, the rest pinned: faster than COMPATIBLE, but Intel documents its
reproducibility for Intel CPUs only, and this project's machines are AMD). torch reads these
settings at its first operations, hence one process per setting. One thread each.

Usage: python benchmarks/bench_torch_kernels.py [--repeats N] [--steps N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from tabulate import tabulate

from rlbench_icl.cpu import TORCH_VARIABLES

HERE = Path(__file__).resolve().parent
SETTINGS = {"pinned (default)": {},
            "native": {"RLBENCH_ICL_TORCH_KERNELS": "native"},
            "nothing pinned": {"RLBENCH_ICL_TORCH_KERNELS": "native", "MKL_CBWR": "AUTO"},
            "MKL AVX2 branch": {"MKL_CBWR": "AVX2"}}
NETWORKS = {"gnn-fm": "gnn_fm_checkpoint", "gnn-fm-paper": "gnn_fm_paper_checkpoint"}

MEASURE = """
import dataclasses, json, sys, tempfile, time
import rlbench_icl
import numpy as np
sys.path.insert(0, {here!r})
from bench_fm import SIZES, best_time, info_for, statistic
from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.fm.policy import Reading, load_network, policy_logits
from rlbench_icl.fm.train import load_config, train

repeats, steps, out = {repeats}, {steps}, {{}}
for name, directory in {networks!r}.items():
    network = load_network(SUBMISSIONS_DIR / directory)
    rng = np.random.default_rng(0)
    for S, A, k in SIZES:
        stat, info = (stat := statistic(rng, S, A, k)), info_for(stat)
        out[f"{{name}} refresh, S = {{S}} (ms)"] = 1e3 * best_time(
            lambda: policy_logits(network, info, stat, Reading()), repeats)
import torch
for n in (256, 1024):
    a, b = torch.randn(n, n), torch.randn(n, n)
    out[f"float32 product {{n}}x{{n}} (ms)"] = 1e3 * best_time(lambda: a @ b, repeats)
config = dataclasses.replace(load_config({config!r}), validation_mdps=1, threads=1)
with tempfile.TemporaryDirectory() as run:
    train(config, 0, run, progress=False, stop_after=1)  # build, validation set, step 0
    start = time.perf_counter()
    train(config, 0, run, progress=False, stop_after=steps)
    out["gnn-fm-paper w64 training step (s)"] = (time.perf_counter() - start) / steps
print(json.dumps(out))
"""


def measure(setting: dict[str, str], repeats: int, steps: int) -> dict[str, float]:
    code = MEASURE.format(here=str(HERE), repeats=repeats, steps=steps, networks=NETWORKS,
                          config=str(HERE.parent / "experiments/paper_fm/w64.toml"))
    env = {k: v for k, v in os.environ.items() if k not in TORCH_VARIABLES}  # each setting's own
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, **setting, "OMP_NUM_THREADS": "1"}, check=False)
    if done.returncode:
        raise SystemExit(f"the {setting} measurement failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="best of N refreshes")
    parser.add_argument("--steps", type=int, default=3, help="training steps timed")
    args = parser.parse_args()
    times = [measure(setting, args.repeats, args.steps) for setting in SETTINGS.values()]
    pinned, native, unpinned, avx2 = times
    rows = [[what, *(f"{t[what]:.3g}" for t in times), f"{pinned[what] / native[what]:.2f}x",
             f"{pinned[what] / unpinned[what]:.2f}x", f"{pinned[what] / avx2[what]:.2f}x"]
            for what in pinned]
    print(tabulate(rows, headers=["measure", *SETTINGS, "pinned / native",
                                  "pinned / nothing pinned", "pinned / MKL AVX2"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
