"""Reading the stored result files: refusing bad ones, rescoring the rest.

A file is refused (with its name and the reason) if it is unreadable, of another schema,
stored at the wrong path, of a task whose digest does not match the registry, run with other
settings than the task's, of another version of its submission than most runs of that
submission and protocol hold, or a second copy of a run. Derived scores of the accepted ones are
recomputed from the per-episode record and the registry's exact values, so a stored scalar
never decides a rank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import store
from ..protocols import online_scores, protocol_settings
from ..registry import Registry
from ..tasks import Task


@dataclass
class Results:
    """Accepted records by (protocol, submission), and the refused files with reasons."""

    records: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=dict)


def load_results(results_dir: Path, registry: Registry, progress: bool = False) -> Results:
    """Every acceptable record under ``results_dir`` (``seed-*.json`` and ``.json.gz``).

    Files are read in sorted path order, so which copy of a duplicated run is refused does
    not depend on the file system. Raises ``ResultFileError`` if the directory is missing.
    ``progress`` shows a bar on stderr.
    """
    if not Path(results_dir).is_dir():
        raise store.ResultFileError(f"results directory {results_dir} does not exist")
    results = Results()
    paths = list(Path(results_dir).rglob("seed-*.json")) + list(
        Path(results_dir).rglob("seed-*.json.gz"))
    read: list[tuple[Path, dict, Task]] = []
    settings: dict[tuple[str, str], dict] = {}
    for path in tqdm(sorted(paths), desc="results", unit="file", disable=not progress,
                     leave=False):
        try:
            record = store.read_result(path)
            read.append((path, record, _check_record(path, Path(results_dir), record,
                                                     registry, settings)))
        except store.ResultFileError as exc:
            results.refused.append((str(path.relative_to(results_dir)), str(exc)))
    versions = _majority_versions(record for _, record, _ in read)
    seen: dict[tuple, str] = {}
    for path, record, task in read:
        try:
            _check_version(path, record, versions)
            _check_unique(path, record, seen)
        except store.ResultFileError as exc:
            results.refused.append((str(path.relative_to(results_dir)), str(exc)))
            continue
        rescore(record, task)
        key = (record["protocol"], record["submission"]["name"])
        results.records.setdefault(key, []).append(record)
        results.tasks[task.id] = task
    results.refused.sort(key=lambda refusal: Path(refusal[0]))  # path order, as read
    return results


def _check_record(path: Path, root: Path, record: dict, registry: Registry,
                  settings: dict[tuple[str, str], dict]) -> Task:
    """The record's task, if the task, its digest, the file's place and the settings fit
    (``settings``: each (task, protocol)'s declared settings, filled as they are needed)."""
    task_id = record["task"]["id"]
    if not registry.knows(task_id):
        raise store.ResultFileError(f"{path}: task {task_id!r} is not in the registry")
    task = registry.make(task_id)
    if record["task"]["digest"] != task.digest:
        raise store.ResultFileError(f"{path}: task digest {record['task']['digest'][:12]} "
                                    f"does not match the registry's {task.digest[:12]} for "
                                    f"{task_id} (the task changed: re-run it)")
    store.check_location(root, path, record)
    key = (task_id, record["protocol"])
    if key not in settings:
        settings[key] = protocol_settings(task, record["protocol"]).to_dict()
    wanted = settings[key]
    if record["settings"] != wanted:
        raise store.ResultFileError(f"{path}: settings {record['settings']} are not the "
                                    f"task's {wanted} (a run with --episodes?)")
    return task


def _majority_versions(records) -> dict[tuple[str, str], tuple[str, int]]:
    """Each (submission, protocol)'s version held by the most runs (distinct task and seed:
    a run stored twice counts once), with that count.

    By count, not by which file sorts first, so one stray file of an old version does not get
    every other run refused; a tie goes to the version string that sorts last as text (any
    fixed rule would do: this one does not depend on file order)."""
    runs: dict[tuple[str, str], dict[str, set]] = {}
    for record in records:
        by_version = runs.setdefault((record["submission"]["name"], record["protocol"]), {})
        by_version.setdefault(record["submission"]["version"], set()).add(
            (record["task"]["id"], record["seed"]))
    return {key: max(((version, len(held)) for version, held in by_version.items()),
                     key=lambda item: (item[1], item[0]))
            for key, by_version in runs.items()}


def _check_version(path: Path, record: dict, versions: dict) -> None:
    """One submission version per (submission, protocol): the one most of its runs hold."""
    sub = record["submission"]
    kept, count = versions[(sub["name"], record["protocol"])]
    if sub["version"] != kept:
        raise store.ResultFileError(
            f"{path}: {sub['name']} version {sub['version']} mixed with version {kept}, which "
            f"{count} of its {record['protocol']} runs hold (keep one version per directory)")


def _check_unique(path: Path, record: dict, seen: dict) -> None:
    """One file per run: the first in path order is kept."""
    sub = record["submission"]
    key = (sub["name"], record["protocol"], record["task"]["id"], record["seed"])
    if key in seen:
        raise store.ResultFileError(f"{path}: the same run is also stored in {seen[key]}")
    seen[key] = str(path)


def rescore(record: dict, task: Task) -> None:
    """Overwrite the record's derived scores with those recomputed from its per-episode data
    and the registry's exact values (in place)."""
    record["task"].update(optimal_value=task.optimal_value, random_value=task.random_value)
    if record["status"] != "ok":
        return
    result = record["result"]
    if record["protocol"] == "online":
        episodes = result["episodes"]
        result["scores"] = online_scores(task, episodes["returns"], episodes["policy_values"])
    else:
        for cell in result["cells"]:
            cell["normalised_value"] = float(task.normalise(cell["value"]))
        result["scores"] = {"offline_score": float(np.mean(
            [c["normalised_value"] for c in result["cells"]]))}
