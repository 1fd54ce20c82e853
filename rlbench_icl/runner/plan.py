"""Planning a grid: every run as a plain ``RunSpec`` value, fixed before anything executes.

A ``RunSpec`` holds only strings, numbers and small dicts, so it pickles to any worker and
round-trips through JSON to an isolated child. Its ``header`` is the first part of every
result file of the run, and its ``identity`` is what decides whether a stored file is reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import store
from .._version import __version__
from ..contract import Submission
from ..protocols import protocol_settings
from ..registry import Registry
from ..sealed import DEFAULT_MEMORY
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
              memory: int | None = DEFAULT_MEMORY, code: dict | None = None
              ) -> list[RunSpec]:
    """Every run of the grid, in a fixed order (protocol, task, seed). ``timeout``: seconds
    per run (default ``default_timeout``); ``isolation``: ``sealed`` (the agent in a process
    of its own, ``rlbench_icl.sealed``) or ``in-process``; ``memory``: bytes per sealed agent
    process; ``code``: the submission's ``discovery.code_identity``, recorded in every
    result."""
    if isolation not in ISOLATION:
        raise ValueError(f"isolation must be one of {ISOLATION}, got {isolation!r}")
    seeds = list(seeds)
    runs = []
    for protocol in protocols:
        for task_id in task_ids:
            task = registry.make(task_id)
            settings = protocol_settings(task, protocol, num_episodes).to_dict()
            limit = default_timeout(task, protocol, settings) if timeout is None else timeout
            runs += [RunSpec(submission_ref, submission.metadata(), task_reference(task),
                             protocol, settings, seed, tuple(map(str, task_paths)), limit,
                             isolation, memory, code)
                     for seed in seeds]
    return runs


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
