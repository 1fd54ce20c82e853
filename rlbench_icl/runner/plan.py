"""Planning a grid: every run as a plain ``RunSpec`` value, fixed before anything executes.

A ``RunSpec`` holds only strings, numbers and small dicts, so it pickles to any worker and
round-trips through JSON to an isolated child. Its ``header`` is the first part of every
result file of the run, and its ``identity`` is what decides whether a stored file is reused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import store
from .._version import __version__
from ..contract import Submission
from ..errors import ConfigError
from ..protocols import protocol_settings
from ..registry import Registry
from ..sealed import DEFAULT_MEMORY
from ..simulate import uses_list_tables
from ..tasks import Task

ISOLATION = ("sealed", "in-process")
TIMEOUT_BASE = 120.0
TIMEOUT_PER_STEP = 0.01


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid. ``task`` is the planned task reference (id, digest, values)."""

    submission_ref: str
    submission: dict = field(hash=False)
    task: dict = field(hash=False)
    protocol: str
    settings: dict = field(hash=False)
    seed: int
    task_paths: tuple[str, ...] = ()
    timeout: float | None = None
    isolation: str = "sealed"
    memory: int | None = DEFAULT_MEMORY
    code: dict | None = field(default=None, hash=False)

    def path(self, out_dir: Path) -> Path:
        """Where the run's result file lives under ``out_dir``."""
        return store.result_path(out_dir, self.submission["name"], self.protocol,
                                 self.task["id"], self.seed)

    def identity(self) -> tuple:
        """What a stored record must match to be reused for this run."""
        return store.identity(self.header())

    def header(self) -> dict:
        """The fields every record of this run starts with, whether it succeeds or fails."""
        return {"schema": store.SCHEMA, "harness_version": __version__,
                "isolation": self.isolation, "submission": self.submission,
                "code": self.code, "task": self.task, "protocol": self.protocol,
                "settings": self.settings, "seed": self.seed}


def plan_runs(submission_ref: str, submission: Submission, registry: Registry,
              task_ids: Sequence[str], protocols: Sequence[str], seeds: Iterable[int],
              num_episodes: int | None = None, task_paths: Sequence[str] = (),
              timeout: float | None = None, isolation: str = "sealed",
              memory: int | None = DEFAULT_MEMORY, code: dict | None = None,
              memory_budget: int | None = None) -> list[RunSpec]:
    """Every run of the grid, in a fixed order (protocol, task, seed). ``timeout``: seconds
    per run (default ``default_timeout``); ``isolation``: ``sealed`` (the agent in a process
    of its own, ``rlbench_icl.sealed``) or ``in-process``; ``memory``: bytes per sealed agent
    process; ``code``: the submission's ``discovery.code_identity``, recorded in every
    result; ``memory_budget``: bytes a run's harness side may need (``run_memory_bytes``;
    default ``default_memory_budget()``): a larger task is refused here, before any run."""
    if isolation not in ISOLATION:
        raise ValueError(f"isolation must be one of {ISOLATION}, got {isolation!r}")
    budget = default_memory_budget() if memory_budget is None else memory_budget
    seeds = list(seeds)
    runs = []
    for protocol in protocols:
        for task_id in task_ids:
            task = registry.make(task_id)
            settings = protocol_settings(task, protocol, num_episodes).to_dict()
            check_memory(task, protocol, budget)
            limit = default_timeout(task, protocol, settings) if timeout is None else timeout
            runs += [RunSpec(submission_ref, submission.metadata(), task_reference(task),
                             protocol, settings, seed, tuple(map(str, task_paths)), limit,
                             isolation, memory, code)
                     for seed in seeds]
    return runs


def default_memory_budget() -> int:
    """Half of this machine's physical memory: the other half is the agents' and the
    system's (a sealed agent process has its own limit, ``--memory``)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def run_memory_bytes(task: Task, protocol: str) -> int:
    """About the harness side's peak memory in one run of ``task``, from its sizes: the
    model (dense S * A * S floats or sparse transitions), the simulator's tables, the exact
    values' arrays, and the (H, S, A) policies a run holds at once (offline: the optimal
    and behaviour policies, the latter's running sums and the agent's policy; online: the
    agent's policy and its check). Measured on Garnet100k-v0 with the random agent: 325 MiB
    peak online, 768 MiB offline, for estimates of 418 and 723 MiB. Leaves out what does
    not grow with the task (the interpreter, ~100 MB)."""
    m = task.mdp
    S, A, H, transitions = m.num_states, m.num_actions, m.horizon, m.num_transitions
    stored = (12 * transitions + 8 * S * A) if m.is_sparse else 8 * S * A * S
    model = stored * (2 if m.R_next is not None else 1)
    tables = 110 * transitions if uses_list_tables(m) else 32 * transitions + 8 * S * A
    values = H * S + 6 * 8 * S * A
    policies = (4 if protocol == "offline" else 2) * 8 * H * S * A
    return model + tables + values + policies


def check_memory(task: Task, protocol: str, budget: int) -> None:
    """Refuse, naming the task's size, a run that would need more than ``budget`` bytes."""
    need = run_memory_bytes(task, protocol)
    if need > budget:
        m = task.mdp
        raise ConfigError(
            f"task {task.id} ({m.num_states:,} states, {m.num_actions} actions, "
            f"{m.num_transitions:,} transitions, horizon {m.horizon}) needs about "
            f"{_size(need)} per {protocol} run, above the memory budget of {_size(budget)} "
            "(--memory-budget; default: half of this machine's memory)")


def _size(num_bytes: int) -> str:
    if num_bytes >= 2**30:
        return f"{num_bytes / 2**30:.1f} GiB"
    return f"{num_bytes / 2**20:.0f} MiB"


def budget_steps(task: Task, protocol: str, settings: dict) -> int:
    """The environment steps a run may take: K * H online; offline, the transitions of
    every dataset the agent is given (each size of each behaviour, at most H per episode)."""
    H = task.mdp.horizon
    if protocol == "online":
        return settings["num_episodes"] * H
    return len(settings["epsilons"]) * sum(settings["dataset_episodes"]) * H


def default_timeout(task: Task, protocol: str, settings: dict) -> float:
    """``TIMEOUT_BASE`` seconds plus ``TIMEOUT_PER_STEP`` per step of the run's budget:
    ample for every reference agent, finite for a looping one."""
    return TIMEOUT_BASE + TIMEOUT_PER_STEP * budget_steps(task, protocol, settings)


def task_reference(task: Task) -> dict:
    """What a record says about its task: the id, version, digest and the exact values that
    normalise its score."""
    return {"id": task.id, "version": task.spec.version, "digest": task.digest,
            "optimal_value": task.optimal_value, "random_value": task.random_value}
