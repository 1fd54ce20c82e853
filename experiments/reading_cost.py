"""CPU time of one online reading of gnn-fm (the exploring and the exploiting context in one
forward pass, as ``InContextAgent`` reads after an episode) on a real task's statistic: the
statistic of EPISODES uniformly random episodes, the fastest of REPEATS readings. torch's
kernels come from the environment (``MKL_CBWR``, ``RLBENCH_ICL_TORCH_KERNELS``), one
process per setting. The nineteenth attempt's cost half (experiments/tune_fm.md) used it on
GarnetS100A6B10-v0, the task that binds the cost bar.

Usage: OMP_NUM_THREADS=1 [MKL_CBWR=...] python experiments/reading_cost.py TASK EPISODES REPEATS
"""

import sys
import time

import numpy as np

from rlbench_icl import ExperienceStatistic, TaskInfo, default_registry
from rlbench_icl.discovery import resolve
from rlbench_icl.fm.policy import batched_logits
from rlbench_icl.protocols.offline import behaviour_policy, collect_dataset


def main() -> None:
    task_id, episodes, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    task = default_registry().make(task_id)
    info = TaskInfo.from_task(task, 500)
    data = collect_dataset(task, behaviour_policy(task, 1.0), episodes, np.random.default_rng(0))
    stat = ExperienceStatistic.from_dataset(data, info.num_states, info.num_actions)
    gnn_fm = sys.modules[resolve("gnn-fm")[1].make_online_agent.__module__]
    network = gnn_fm.load_network(gnn_fm.CHECKPOINT)
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        batched_logits(network, info, stat, gnn_fm.ONLINE, (gnn_fm.ONLINE.bonus, 0.0))
        best = min(best, time.process_time() - start)
    print(f"{task_id}, {episodes} random episodes: {1e3 * best:.1f} ms a reading "
          f"(fastest of {repeats})")


if __name__ == "__main__":
    main()
