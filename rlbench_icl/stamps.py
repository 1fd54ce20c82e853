"""Verification stamps: what ``rlbench-icl verify`` found, kept beside a submission's results.

``<results>/<submission>/verified.json`` holds, per checked file, the canonical-content hash
of the record that was reproduced exactly (or the difference found), so the leaderboard can
tell a verification that still holds from one whose files changed since
(``verification_status``). This module only reads and writes stamps; re-running stored runs
is ``rlbench_icl.verify``'s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import store
from ._version import __version__
from .errors import StampError

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


def verification_status(results_dir: Path, submission: str, protocol: str | None = None,
                        tasks: Collection[str] | None = None) -> str:
    """What the leaderboard shows for a submission (on one protocol and some tasks, if
    given): ``8/8`` (all reproduced, files unchanged since), ``failed (k of n differ)``,
    ``stale`` (a checked file changed or vanished since), ``no`` (never verified), or
    ``unreadable stamp``."""
    path = Path(results_dir) / submission / STAMP
    if not path.exists():
        return "no"
    try:
        reproduced, differ = _read_stamp(path, submission)
    except StampError as exc:
        return f"unreadable stamp ({exc})"
    except (OSError, ValueError):  # not JSON
        return "unreadable stamp"
    def kept(rel: str) -> bool:
        parts = rel.split("/")
        return (protocol is None or parts[1] == protocol) and (tasks is None or
                                                               parts[2] in tasks)

    reproduced = {p: d for p, d in reproduced.items() if kept(p)}
    differ = {p: d for p, d in differ.items() if kept(p)}
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
