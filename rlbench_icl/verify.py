"""Verification: re-run a seeded sample of a submission's stored runs and check that every
one reproduces its stored record exactly.

A run is a pure function of its inputs (``rlbench_icl.store``), so any difference means the
file was edited, the submission changed without a version bump, or the agent is not
deterministic. The outcome is stamped into ``<results>/<submission>/verified.json``: the
canonical-content hash of each checked file, so the leaderboard can tell a verification that
still holds from one whose files have changed since (``verification_status``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import store
from ._version import __version__
from .runner import RunSpec, execute_all
from .submissions import SubmissionError, available, load, resolve

STAMP = "verified.json"
STAMP_SCHEMA = "rlbench-icl/verification/1"


@dataclass(frozen=True)
class Verdict:
    """One checked file: ``path`` relative to the results directory; ``problem`` is None
    when the re-run reproduced it exactly, and ``digest`` is then the hash of the record
    that was compared."""

    path: str
    problem: str | None
    digest: str | None = None


def result_files(results_dir: Path, submission: str) -> list[Path]:
    """The submission's successful stored runs, sorted (failed runs are not verified)."""
    root = Path(results_dir) / submission
    paths = sorted(root.glob("*/*/seed-*.json")) + sorted(root.glob("*/*/seed-*.json.gz"))
    ok = []
    for path in sorted(paths):
        try:
            if store.read_result(path)["status"] == "ok":
                ok.append(path)
        except store.ResultFileError:
            ok.append(path)  # unreadable: verification will say so
    return ok


def sample_files(paths: Sequence[Path], sample: int | None, seed: int) -> list[Path]:
    """``sample`` of ``paths`` drawn without replacement from ``default_rng(seed)`` (all of
    them when ``sample`` is None or at least their number), in sorted order."""
    if sample is None or sample >= len(paths):
        return list(paths)
    chosen = np.random.default_rng(seed).choice(len(paths), size=sample, replace=False)
    return [paths[i] for i in sorted(chosen)]


def verify_submission(results_dir: Path, submission: str, sample: int | None = 10,
                      seed: int = 0, agent: str | None = None, jobs: int = 1,
                      task_paths: Sequence[str] = ()) -> list[Verdict]:
    """Re-run a sample of ``submission``'s stored runs; one verdict per sampled file.

    The submission is loaded from ``agent`` if given, else only by its name among the known
    submissions (``rlbench-icl agents``): a directory name is never imported as code."""
    results_dir = Path(results_dir)
    chosen = sample_files(result_files(results_dir, submission), sample, seed)
    ref, loaded = resolve(agent) if agent else _known(submission)
    verdicts, runs, stored = [], [], {}
    for path in chosen:
        rel = str(path.relative_to(results_dir))
        try:
            run, record = _planned(results_dir, path, ref, loaded, task_paths)
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
        problem = first_difference(_canonical(original), _canonical(record))
        verdicts.append(Verdict(rel, problem, None if problem else record_hash(original)))
    return sorted(verdicts, key=lambda v: v.path)


def _known(name: str):
    known = available()
    if name not in known:
        raise SubmissionError(f"unknown submission {name!r}")
    return known[name], load(known[name])


def _planned(results_dir: Path, path: Path, ref: str, loaded, task_paths):
    """The run a stored file stands for, or ``ResultFileError`` saying why it cannot be
    re-run (unreadable, another submission version, stored at a place its content denies)."""
    record = store.read_result(path)
    if record["submission"] != loaded.metadata():
        raise store.ResultFileError(f"stored submission {record['submission']} is not the "
                                    f"loaded {loaded.metadata()} (a new version?)")
    run = RunSpec(ref, record["submission"], record["task"], record["protocol"],
                  record["settings"], record["seed"], tuple(map(str, task_paths)))
    store.check_location(results_dir, path, record)
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


def write_stamp(results_dir: Path, submission: str, verdicts: Sequence[Verdict],
                seed: int) -> Path:
    """Record the verification beside the submission's results, merged into the stamp
    already there: this run's verdicts replace the earlier ones of the files it checked, and
    every other earlier verdict is kept as it was (a file edited since stays "stale", a
    difference stays until a re-check reproduces the file), so a second, smaller sample
    adds to what was verified instead of forgetting it. An unreadable stamp is replaced."""
    path = Path(results_dir) / submission / STAMP
    reproduced, differ = _earlier_verdicts(path, submission)
    for v in verdicts:
        reproduced.pop(v.path, None)
        differ.pop(v.path, None)
        if v.problem is None:
            reproduced[v.path] = v.digest
        else:
            differ[v.path] = v.problem
    stamp = {"schema": STAMP_SCHEMA, "harness_version": __version__, "submission": submission,
             "sample_seed": seed, "reproduced": reproduced, "differ": differ}
    store.write_atomic(path, json.dumps(stamp, sort_keys=True, indent=1) + "\n")
    return path


def _earlier_verdicts(path: Path, submission: str) -> tuple[dict, dict]:
    if not path.exists():
        return {}, {}
    try:
        return _read_stamp(path, submission)
    except (OSError, ValueError):  # StampError included: nothing of it can be trusted
        return {}, {}


def verification_status(results_dir: Path, submission: str, protocol: str | None = None
                        ) -> str:
    """What the leaderboard shows for a submission (on one protocol, if given): ``8/8`` (all
    reproduced, files unchanged since), ``failed (k of n differ)``, ``stale`` (a checked
    file changed or vanished since), ``no`` (never verified), or ``unreadable stamp``."""
    path = Path(results_dir) / submission / STAMP
    if not path.exists():
        return "no"
    try:
        reproduced, differ = _read_stamp(path, submission)
    except StampError as exc:
        return f"unreadable stamp ({exc})"
    except (OSError, ValueError):  # not JSON
        return "unreadable stamp"
    if protocol is not None:
        reproduced = {p: d for p, d in reproduced.items() if p.split("/")[1] == protocol}
        differ = {p: d for p, d in differ.items() if p.split("/")[1] == protocol}
    total = len(reproduced) + len(differ)
    if differ:
        return f"failed ({len(differ)} of {total} differ)"
    for rel, digest in reproduced.items():
        try:
            if content_hash(Path(results_dir) / _packed_or_plain(results_dir, rel)) != digest:
                return "stale"
        except (store.ResultFileError, FileNotFoundError):
            return "stale"
    return f"{total}/{total}" if total else "no"


class StampError(ValueError):
    """A verification stamp that does not describe this submission's files."""


def _read_stamp(path: Path, submission: str) -> tuple[dict, dict]:
    stamp = json.loads(path.read_text())
    if not isinstance(stamp, dict) or stamp.get("schema") != STAMP_SCHEMA:
        raise StampError("not a verification stamp")
    if stamp.get("submission") != submission:
        raise StampError(f"it is {stamp.get('submission')!r}'s")
    reproduced, differ = stamp.get("reproduced"), stamp.get("differ")
    if not isinstance(reproduced, dict) or not isinstance(differ, dict):
        raise StampError("malformed")
    for rel in [*reproduced, *differ]:
        parts = rel.split("/")
        if len(parts) != 4 or parts[0] != submission or ".." in parts:
            raise StampError(f"it names {rel!r}, not one of this submission's files")
    return reproduced, differ


def content_hash(path: Path) -> str:
    """SHA-256 of a result file's canonical text (the same for ``.json`` and packed
    ``.json.gz``)."""
    return record_hash(store.read_result(path))


def record_hash(record: dict) -> str:
    return hashlib.sha256(store.dumps(record).encode("utf-8")).hexdigest()


def _packed_or_plain(results_dir: Path, rel: str) -> str:
    """A stamp written before ``pack`` names ``.json`` files; after it they are ``.json.gz``."""
    if not (Path(results_dir) / rel).exists() and rel.endswith(".json"):
        return rel + ".gz"
    return rel


def _canonical(record: dict):
    return json.loads(store.dumps(record))


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
