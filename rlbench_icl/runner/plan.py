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
from ..tasks import Task


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
                "submission": self.submission, "task": self.task, "protocol": self.protocol,
                "settings": self.settings, "seed": self.seed}


def plan_runs(submission_ref: str, submission: Submission, registry: Registry,
              task_ids: Sequence[str], protocols: Sequence[str], seeds: Iterable[int],
              num_episodes: int | None = None, task_paths: Sequence[str] = (),
              timeout: float | None = None) -> list[RunSpec]:
    """Every run of the grid, in a fixed order (protocol, task, seed)."""
    seeds = list(seeds)
    runs = []
    for protocol in protocols:
        for task_id in task_ids:
            task = registry.make(task_id)
            settings = protocol_settings(task, protocol, num_episodes).to_dict()
            runs += [RunSpec(submission_ref, submission.metadata(), task_reference(task),
                             protocol, settings, seed, tuple(map(str, task_paths)), timeout)
                     for seed in seeds]
    return runs


def task_reference(task: Task) -> dict:
    """What a record says about its task: the id, version, digest and the exact values that
    normalise its score."""
    return {"id": task.id, "version": task.spec.version, "digest": task.digest,
            "optimal_value": task.optimal_value, "random_value": task.random_value}
