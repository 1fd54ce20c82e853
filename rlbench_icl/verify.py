"""Reproduction checks: re-run a seeded sample of a submission's stored runs and check that
every one reproduces its stored record exactly, byte for byte (``rlbench-icl verify``).

A run is a pure function of its inputs (``rlbench_icl.store``), so any difference means the
file was edited, the submission changed without a version bump, or the agent is not
deterministic. The outcome is stamped beside the results (``rlbench_icl.stamps``). What this
does not check is whether the agent kept to the rules while it ran: only that its stored
records are what its code produces.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import store
from .discovery import SubmissionError, available, changed_files, reference, submission_code
from .errors import RlbenchIclError
from .registry import load_registry
from .runner import RunSpec, execute_all
from .runner.plan import TIMEOUT_BASE, default_timeout
from .sealed import Limits, sealed_submission
from .stamps import Verdict, record_hash


def result_files(results_dir: Path, submission: str) -> list[Path]:
    """The submission's successful stored runs, sorted (failed runs are not verified)."""
    return stored_runs(results_dir, submission)[0]


def stored_runs(results_dir: Path, submission: str) -> tuple[list[Path], dict[str, int]]:
    """The submission's successful stored runs, sorted, and how many of its stored runs
    record each code hash (``"not recorded"`` for runs from before code hashes)."""
    root = Path(results_dir) / submission
    paths = sorted(root.glob("*/*/seed-*.json")) + sorted(root.glob("*/*/seed-*.json.gz"))
    ok, hashes = [], Counter()
    for path in sorted(paths):
        try:
            record = store.read_result(path)
        except store.ResultFileError:
            ok.append(path)  # unreadable: verification will say so
            continue
        hashes[str((record.get("code") or {}).get("sha256", "not recorded"))] += 1
        if record["status"] == "ok":
            ok.append(path)
    return ok, dict(sorted(hashes.items()))


def sample_files(paths: Sequence[Path], sample: int | None, seed: int) -> list[Path]:
    """``sample`` of ``paths`` drawn without replacement from ``default_rng(seed)`` (all of
    them when ``sample`` is None or at least their number), in sorted order."""
    if sample is None or sample >= len(paths):
        return list(paths)
    chosen = np.random.default_rng(seed).choice(len(paths), size=sample, replace=False)
    return [paths[i] for i in sorted(chosen)]


@dataclass(frozen=True)
class Verification:
    """One verdict per sampled file, the hash of the code that re-ran them, and how many
    stored runs record each code hash (more than one: runs of different code)."""

    verdicts: list[Verdict]
    code_sha256: str
    stored_code: dict[str, int]


def verify_submission(results_dir: Path, submission: str, sample: int | None = 10,
                      seed: int = 0, agent: str | None = None, jobs: int = 1,
                      task_paths: Sequence[str] = (), tasks: Collection[str] | None = None
                      ) -> Verification:
    """Re-run a sample of ``submission``'s stored runs (of ``tasks`` only, if given); one
    verdict per sampled file.

    The submission is found from ``agent`` if given, else only by its name among the known
    submissions (``rlbench-icl agents``): a directory name is never imported as code. Every
    re-run is sealed (``rlbench_icl.sealed``), so this process never runs submission code,
    and only sealed stored runs can be verified."""
    results_dir = Path(results_dir)
    files, stored_code = stored_runs(results_dir, submission)
    if tasks is not None:
        files = [f for f in files if f.parent.name in set(tasks)]
    chosen = sample_files(files, sample, seed)
    ref = reference(agent) if agent else _known(submission)
    with sealed_submission(ref, Limits(wall_seconds=TIMEOUT_BASE)) as loaded:
        metadata, code = loaded.metadata(), submission_code(ref, loaded)
    registry = load_registry(task_paths)
    verdicts, runs, stored = [], [], {}
    for path in chosen:
        rel = str(path.relative_to(results_dir))
        try:
            run, record = _planned(results_dir, path, ref, (metadata, code), task_paths,
                                   registry)
        except store.ResultFileError as exc:
            verdicts.append(Verdict(rel, str(exc)))
            continue
        key = run.path(Path())
        if key in stored:
            verdicts.append(Verdict(rel, f"the same run is also stored in {stored[key][0]}"))
            continue
        runs.append(run)
        stored[key] = (rel, record)
    for run, record, _ in execute_all(runs, jobs, None):
        rel, original = stored[run.path(Path())]
        problem = frozen_state_problem(original) or first_difference(
            _canonical(original), _canonical(record))
        verdicts.append(Verdict(rel, problem, None if problem else record_hash(original)))
    return Verification(sorted(verdicts, key=lambda v: v.path), code["sha256"], stored_code)


def frozen_state_problem(record: dict) -> str | None:
    """What is wrong with a stored record's frozen-state certificate, if anything: the
    harness never writes an ok record whose state changed during the run."""
    certificate = (record.get("result") or {}).get("frozen_state")
    if certificate is not None and certificate.get("before") != certificate.get("after"):
        return (f"frozen_state: stored before {certificate.get('before')} and after "
                f"{certificate.get('after')} differ")
    return None


def _known(name: str) -> str:
    known = available()
    if name not in known:
        raise SubmissionError(f"unknown submission {name!r}")
    return known[name]


def _planned(results_dir: Path, path: Path, ref: str, loaded: tuple[dict, dict], task_paths,
             registry):
    """The run a stored file stands for, or ``ResultFileError`` saying why it cannot be
    re-run (unreadable, in-process, another submission version or code, stored at a place
    its content denies)."""
    metadata, code = loaded
    record = store.read_result(path)
    if record.get("isolation") != "sealed":
        raise store.ResultFileError("stored from an in-process run: only sealed runs are "
                                    "verified (re-run it without --in-process)")
    if record["submission"] != metadata:
        raise store.ResultFileError(f"stored submission {record['submission']} is not the "
                                    f"loaded {metadata} (a new version?)")
    if (record.get("code") or {}).get("sha256") != code["sha256"]:
        changed = changed_files(record.get("code"), code)
        raise store.ResultFileError(f"the submission's code changed since this run "
                                    f"({', '.join(changed)}) and its version did not")
    store.check_location(results_dir, path, record)
    try:
        task = registry.make(record["task"]["id"])
    except RlbenchIclError as exc:
        raise store.ResultFileError(f"its task cannot be built: {exc}") from None
    run = RunSpec(ref, record["submission"], record["task"], record["protocol"],
                  record["settings"], record["seed"], tuple(map(str, task_paths)),
                  default_timeout(task, record["protocol"], record["settings"]), "sealed",
                  code=code)
    return run, record


def first_difference(stored, rerun, where: str = "") -> str | None:
    """The first place where two JSON values differ, as ``where: stored X, re-run Y``."""
    if isinstance(stored, dict) and isinstance(rerun, dict):
        for key in sorted(set(stored) | set(rerun)):
            if key not in stored or key not in rerun:
                return f"{where}.{key}: present in only one of the stored and re-run records"
            found = first_difference(stored[key], rerun[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(stored, list) and isinstance(rerun, list) and len(stored) == len(rerun):
        for i, (a, b) in enumerate(zip(stored, rerun, strict=True)):
            found = first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        return None
    if stored != rerun or type(stored) is not type(rerun):
        return f"{where.lstrip('.') or 'record'}: stored {_short(stored)}, re-run {_short(rerun)}"
    return None


def _canonical(record: dict):
    return json.loads(store.dumps(record))


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
