"""The offline protocol: the harness collects datasets, the agent returns a policy, the score
is the policy's exact normalised value (no sampling noise enters it).

Datasets come from behaviour policies ``eps * uniform + (1 - eps) * optimal`` (eps = 1 is
uniform random). For each eps one dataset of the largest size is drawn and smaller sizes are
its first episodes, so the datasets of one run are nested (as in the paper's growing datasets).
``protocol_datasets`` yields them exactly as the agent receives them (the export reads it too).
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from ..contract import Dataset, Submission, TaskInfo
from ..simulate import Simulator, UniformStream, uses_list_tables
from ..tasks import Task
from .common import AgentError, check_policy, make_streams


@dataclass(frozen=True)
class OfflineSettings:
    """Offline protocol settings.

    Attributes:
        dataset_episodes: dataset sizes, in episodes.
        epsilons: behaviour mixtures ``eps * uniform + (1 - eps) * optimal``.
    """

    dataset_episodes: tuple[int, ...]
    epsilons: tuple[float, ...]

    def to_dict(self) -> dict:
        return {k: list(v) for k, v in asdict(self).items()}


def behaviour_policy(task: Task, epsilon: float) -> np.ndarray:
    """``eps * uniform + (1 - eps) * optimal``, shaped like the task's optimal policy."""
    m = task.mdp
    return epsilon / m.num_actions + (1.0 - epsilon) * task.optimal_policy


def collect_dataset(task: Task, policy: np.ndarray, num_episodes: int,
                    rng: np.random.Generator) -> Dataset:
    """``num_episodes`` episodes of at most H steps of ``policy`` (S, A) or (H, S, A)."""
    m = task.mdp
    sim, uniforms = Simulator(m, rng), UniformStream(rng)
    cdfs = np.cumsum(np.broadcast_to(policy, (m.horizon, m.num_states, m.num_actions)),
                     axis=-1)[..., :-1]
    if uses_list_tables(m):
        cdfs = cdfs.tolist()
    rows: list[tuple] = []
    for k in range(num_episodes):
        state = sim.reset()
        for h in range(m.horizon):
            action = bisect_right(cdfs[h][state], uniforms.next())
            reward, next_state, terminated = sim.step(state, action)
            rows.append((state, action, reward, next_state, terminated, k, h))
            if terminated:
                break
            state = next_state
    dtypes = (np.int64, np.int64, np.float64, np.int64, bool, np.int64, np.int64)
    cols = list(zip(*rows, strict=True)) or [()] * len(dtypes)  # no episodes: empty columns
    return Dataset(*(np.array(c, dtype=d) for c, d in zip(cols, dtypes, strict=True)),
                   num_episodes=num_episodes)


def protocol_datasets(task: Task, settings: OfflineSettings, seed: int
                      ) -> Iterator[tuple[float, int, Dataset]]:
    """The datasets of one offline run, exactly as ``run_offline`` hands them to the agent.

    Yields ``(epsilon, dataset_episodes, dataset)`` per cell, in the run's order: epsilons as
    the settings list them, sizes ascending. Per epsilon one dataset of the largest size is
    drawn (lazily, when its first cell is reached) from its own stream of the run, and each
    cell gets a fresh copy of its first ``dataset_episodes`` episodes.
    """
    streams = _streams(task, settings, seed)
    sizes = sorted(settings.dataset_episodes)
    for i, eps in enumerate(settings.epsilons):
        full = collect_dataset(task, behaviour_policy(task, eps), sizes[-1],
                               streams[f"dataset-{i}"])
        for n in sizes:
            yield eps, n, full.first(n)


def run_offline(task: Task, submission: Submission, settings: OfflineSettings, seed: int,
                deadline: float | None = None) -> dict:
    """Score one offline run: every (epsilon, size) cell; returns ``{"cells", "scores"}``.

    Raises:
        AgentError: the solver raised or returned a bad policy (the message names the cell).
    """
    rng = _streams(task, settings, seed)["agent"]
    info = TaskInfo.from_task(task)
    cells = []
    for eps, n, dataset in protocol_datasets(task, settings, seed):
        value = task.policy_value(_solve(submission, info, dataset, rng, eps, n, deadline))
        cells.append({"epsilon": eps, "dataset_episodes": n, "transitions": len(dataset),
                      "value": value, "normalised_value": float(task.normalise(value))})
    return {"cells": cells,
            "scores": {"offline_score": float(np.mean([c["normalised_value"] for c in cells]))}}


def _streams(task: Task, settings: OfflineSettings, seed: int) -> dict[str, np.random.Generator]:
    """The run's streams: the agent's, and one per epsilon for its dataset."""
    names = ("agent",) + tuple(f"dataset-{i}" for i in range(len(settings.epsilons)))
    return make_streams(task.digest, "offline", settings.to_dict(), seed, names)


def _solve(submission, info, dataset, rng, eps, n, deadline) -> np.ndarray:
    where = f"solve_offline, epsilon {eps}, dataset_episodes {n}"
    try:
        policy = check_policy(submission.solve_offline(info, dataset, rng), info)
    except Exception as exc:
        raise AgentError(f"{where}: {exc if isinstance(exc, AgentError) else repr(exc)}"
                         ) from exc
    if deadline is not None and time.monotonic() > deadline:
        raise AgentError(f"{where}: the run passed its time limit")
    return policy
