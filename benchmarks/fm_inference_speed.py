"""gnn-fm's online inference: the reference forward pass (``PolicyNetwork.forward`` under
``torch.no_grad``, as ``rlbench_icl.fm.policy`` called it before) against the inference path
it calls now (``PolicyNetwork.infer``), in one process, with the same bits asserted.

Per task (seed 0 of the online protocol, the shipped checkpoint):

1. one complete online run with each path (the same episodes, the same ``run_online`` result
   dict, asserted equal), timed in CPU seconds of this process;
2. the forward passes of that run replayed from the recorded contexts: milliseconds per pass
   of each path (interleaved, pass by pass, so that load on the machine hits both alike),
   every pass's logits asserted bit-identical; torch operators per pass (counted by a
   dispatch mode); the time of the pass's linear layers on their own (MKL in its
   reproducible mode, ``MKL_CBWR=COMPATIBLE``: the part no re-arrangement can remove).

Usage: python benchmarks/fm_inference_speed.py [--tasks T ...] [--episodes K]
(set OMP_NUM_THREADS=1; torch runs on one thread anyway).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import rlbench_icl.fm.policy as fmp
from rlbench_icl import OnlineSettings, default_registry
from rlbench_icl.discovery import SUBMISSIONS_DIR, resolve
from rlbench_icl.fm.features import collate
from rlbench_icl.fm.model import pinned_kernels
from rlbench_icl.protocols import run_online

TASKS = ("GarnetS100A6B10-v0", "DeepSea10-v0", "RiverSwim6-v0")
FM = resolve("gnn-fm")[1]
NETWORK = fmp.load_network(SUBMISSIONS_DIR / "gnn_fm_checkpoint")  # the one FM loads


def reference_logits(network, batch, rounds=None, state_chunk=None):
    with torch.no_grad(), pinned_kernels():
        return network(batch, num_rounds=rounds, state_chunk=state_chunk)[0]


def fast_logits(network, batch, rounds=None, state_chunk=None):
    with pinned_kernels():
        return network.infer(batch, num_rounds=rounds, state_chunk=state_chunk)


def patched_forward(logits_of, record):
    """``fmp._forward`` (one pass per call online) through ``logits_of``, recording contexts."""
    def _forward(network, info, contexts, rounds):
        record.append(contexts)
        batch = collate(contexts)
        return [lg[:info.num_states].numpy().astype(np.float64)
                for lg in logits_of(network, batch, rounds)]
    return _forward


def online_run(task, episodes, logits_of):
    record, original = [], fmp._forward
    fmp._forward = patched_forward(logits_of, record)
    try:
        start = time.process_time()
        result = run_online(task, FM, OnlineSettings(episodes), 0)
        return result, time.process_time() - start, record
    finally:
        fmp._forward = original


class OpCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def ops_per_pass(logits_of, batch) -> int:
    with OpCounter() as counter:
        logits_of(NETWORK, batch)
    return sum(counter.ops.values())


def linear_ms(batch, repeats=5) -> float:
    """CPU ms of the pass's linear layers alone, on the inputs they get in the pass."""
    inputs = []
    hooks = [m.register_forward_hook(lambda m, i, o: inputs.append((m, i[0].clone())))
             for m in NETWORK.modules() if isinstance(m, torch.nn.Linear)]
    reference_logits(NETWORK, batch)
    for hook in hooks:
        hook.remove()
    best = np.inf
    with torch.no_grad():
        for _ in range(repeats):
            start = time.process_time()
            for module, x in inputs:
                F.linear(x, module.weight, module.bias)
            best = min(best, time.process_time() - start)
    return best * 1e3


def replay(record):
    batches = [collate(contexts) for contexts in record]
    times = {"reference": 0.0, "fast": 0.0}
    for batch in batches:
        outputs = {}
        for name, logits_of in (("reference", reference_logits), ("fast", fast_logits)):
            start = time.process_time()
            outputs[name] = logits_of(NETWORK, batch)
            times[name] += time.process_time() - start
        assert torch.equal(outputs["reference"], outputs["fast"]), "logits differ"
        assert outputs["reference"].dtype == outputs["fast"].dtype
    last = batches[-1]
    return {
        "passes": len(batches),
        "last pass (B, S, A, M)": tuple(last.successors.shape),
        "ms/pass reference": round(times["reference"] / len(batches) * 1e3, 2),
        "ms/pass fast": round(times["fast"] / len(batches) * 1e3, 2),
        "ops/pass reference (last)": ops_per_pass(reference_logits, last),
        "ops/pass fast (last)": ops_per_pass(fast_logits, last),
        "ms linear layers alone (last)": round(linear_ms(last), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--episodes", type=int, default=None,
                        help="episodes per online run (default: the task's)")
    args = parser.parse_args()
    registry = default_registry()
    for task_id in args.tasks:
        task = registry.make(task_id)
        episodes = args.episodes or registry.spec(task_id).online_episodes
        ref, ref_cpu, record = online_run(task, episodes, reference_logits)
        fast, fast_cpu, _ = online_run(task, episodes, fast_logits)
        assert json.dumps(ref, sort_keys=True) == json.dumps(fast, sort_keys=True), task_id
        row = {"task": task_id, "episodes": episodes,
               "run CPU s reference": round(ref_cpu, 2), "run CPU s fast": round(fast_cpu, 2),
               "run speed-up": round(ref_cpu / fast_cpu, 2), "run results identical": True}
        row.update(replay(record))
        row["pass speed-up"] = round(row["ms/pass reference"] / row["ms/pass fast"], 2)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
