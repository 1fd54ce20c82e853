"""CPU time of the README's sparse R-max example on Taxi, planning on its sparse flat P
against the same agent planning on that P made dense, in the same run.

Both variants are the README block marked ``sparse-example``, executed as written; the dense
one has ``backward_induction`` replaced by a wrapper that calls ``P.toarray()`` first (the
(S*A, S) matrix a dense agent would hold). Each plays one seed of the online protocol
(``run_online``, as the harness plays it in-process) for ``--episodes`` episodes, timed with
``time.process_time``; the wrapper also times every planning call. The two runs should take
the same actions: the table says whether their returns agree.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_sparse_planning.py [--task Taxi-v0]
           [--episodes 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

from rlbench_icl import backward_induction, default_registry
from rlbench_icl.protocols import protocol_settings, run_online

README = Path(__file__).resolve().parent.parent / "README.md"


def load_example(densify: bool) -> tuple[dict, dict]:
    """The README example's namespace, and the planning tally its plans add to."""
    text = README.read_text()
    code = re.search(r"<!-- sparse-example -->\n```python\n(.*?)```", text, re.S)[1]
    namespace: dict = {"__name__": "sparse_example"}
    exec(compile(code, "README.md sparse example", "exec"), namespace)
    tally = {"calls": 0, "seconds": 0.0}

    def timed_plan(P, R, horizon, discount=1.0):
        start = time.process_time()
        out = backward_induction(P.toarray() if densify else P, R, horizon, discount)
        tally["calls"] += 1
        tally["seconds"] += time.process_time() - start
        return out

    namespace["backward_induction"] = timed_plan
    return namespace, tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Taxi-v0")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    task = default_registry().make(args.task)
    settings = protocol_settings(task, "online", args.episodes)
    rows, runs = [], {}
    for name, densify in (("sparse csr P", False), ("same P, dense", True)):
        namespace, tally = load_example(densify)
        start = time.process_time()
        runs[name] = run_online(task, namespace["SUBMISSION"], settings, args.seed)
        total = time.process_time() - start
        rows.append([name, f"{total:.1f}", tally["calls"],
                     f"{1000 * tally['seconds'] / tally['calls']:.1f}",
                     f"{runs[name]['scores']['online_score']:.3f}"])
    base, dense = (runs[k]["episodes"]["returns"] for k in runs)
    run_ratio = float(rows[1][1]) / float(rows[0][1])
    plan_ratio = float(rows[1][3]) / float(rows[0][3])
    print(f"{args.task}, {args.episodes} episodes, seed {args.seed}: sparse is "
          f"{run_ratio:.1f}x faster per run, {plan_ratio:.1f}x per plan; returns identical: "
          f"{'yes' if np.array_equal(base, dense) else 'NO'}")
    print(tabulate(rows, headers=["planning on", "run CPU s", "plans", "CPU ms per plan",
                                  "online score"], tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
