"""The result store: one plain JSON file per run, written atomically.

Layout: ``<out>/<submission>/<protocol>/<task id>/seed-<seed>.json``. A file is a pure function
of the run's inputs (no clock, no host name): the same run gives the same bytes on any machine
and worker count. Floats are stored with 12 significant digits, so last-ulp differences
between BLAS builds never change a file. Wall times go to ``<out>/<submission>/timings.jsonl``.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Literal, TypedDict

from .errors import ResultFileError

SCHEMA = "rlbench-icl/result/1"
FLOAT_DIGITS = 12


class TaskRef(TypedDict):
    id: str
    version: int
    digest: str
    optimal_value: float
    random_value: float


class RunError(TypedDict):
    message: str
    traceback: str


class ResultRecord(TypedDict):
    """The schema of a result file (``schema`` = ``SCHEMA``).

    ``result`` is None for a failed run. Online: ``{"episodes": {"returns": [K floats],
    "policy_values": [K floats] | None}, "scores": {online_score, final_score,
    cumulative_regret, episodes_to_solve, episodes_to_solve_source}}``. Offline:
    ``{"cells": [{epsilon, dataset_episodes, transitions, value, normalised_value}],
    "scores": {offline_score}}``. Either may also hold ``"frozen_state": {"before": str,
    "after": str}`` for a submission that declares ``Submission.frozen_state``.
    """

    schema: str
    harness_version: str
    submission: dict[str, Any]
    task: TaskRef
    protocol: Literal["online", "offline"]
    settings: dict[str, Any]
    seed: int
    status: Literal["ok", "failed"]
    error: RunError | None
    result: dict[str, Any] | None


# A path component of a result file: starts with a letter or digit, so never "." or ".."
# and never absolute; no separators. Submission names and task ids are stricter still.
SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


def result_path(out_dir: Path, submission: str, protocol: str, task_id: str, seed: int) -> Path:
    """``<out>/<submission>/<protocol>/<task id>/seed-<seed>.json``; a name that could
    leave ``out_dir`` (separators, ``..``, odd characters) is a ``ResultFileError``."""
    for kind, part in (("submission name", submission), ("protocol", protocol),
                       ("task id", task_id)):
        if not isinstance(part, str) or not SAFE_COMPONENT.match(part):
            raise ResultFileError(f"{kind} {part!r} cannot name a result file (letters, "
                                  "digits, '_', '.' and '-' only, starting with a letter or "
                                  "digit)")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ResultFileError(f"seed {seed!r} must be a non-negative integer")
    return Path(out_dir, submission, protocol, task_id, f"seed-{seed}.json")


def check_location(root: Path, path: Path, record: dict) -> None:
    """``ResultFileError`` unless ``path`` is where ``record`` belongs under ``root`` (as
    ``.json``, or ``.json.gz`` once packed)."""
    expected = result_path(root, record["submission"]["name"], record["protocol"],
                           record["task"]["id"], record["seed"])
    if str(path).endswith(".gz"):
        expected = expected.with_suffix(".json.gz")
    # the same path needs no resolving (two system calls per component, per file)
    if expected != Path(path) and expected.resolve() != Path(path).resolve():
        raise ResultFileError(f"{path}: its content says it belongs at {expected}")


def identity(record: dict) -> tuple:
    """What must match for a stored result to stand for a planned run."""
    return (record["schema"], record["harness_version"],
            record.get("isolation", "in-process"), (record.get("code") or {}).get("sha256"),
            record["submission"]["name"],
            record["submission"]["version"],
            record["task"]["id"], record["task"]["digest"], record["protocol"],
            json.dumps(record["settings"], sort_keys=True), record["seed"])


def dumps(record: dict) -> str:
    """Canonical JSON text of a record (sorted keys, rounded floats, no NaN)."""
    return json.dumps(_round_floats(record), sort_keys=True, separators=(",", ":"),
                      allow_nan=False) + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def make_dirs(path: Path) -> list[Path]:
    """``mkdir -p path``; returns the directories it made, deepest first, so that a command
    that fails can remove those still empty (``remove_empty``)."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    return missing


def remove_empty(directories: list[Path]) -> None:
    """Remove each of ``directories`` (deepest first) that is empty; leave the others."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            pass


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` so that no reader sees a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)  # mkstemp's 0600 would hide results
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_result(path: Path) -> dict:
    """A stored record (``.json``, or ``.json.gz`` as packed for committing), or
    ``ResultFileError`` naming the file and what is wrong."""
    try:
        raw = Path(path).read_bytes()
        if str(path).endswith(".gz"):
            raw = gzip.decompress(raw)
        record = json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError,
            json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path}: unreadable result file: {exc}") from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        found = record.get("schema") if isinstance(record, dict) else type(record).__name__
        raise ResultFileError(f"{path}: schema {found!r} is not {SCHEMA!r}")
    missing = set(ResultRecord.__annotations__) - set(record)
    if missing:
        raise ResultFileError(f"{path}: missing keys {sorted(missing)}")
    problem = _schema_problem(record)
    if problem:
        raise ResultFileError(f"{path}: {problem}")
    return record


def _schema_problem(record: dict) -> str | None:
    """What is wrong with a record's nested structure, or None."""
    sub, task, result = record["submission"], record["task"], record["result"]
    checks = [
        (isinstance(sub, dict) and isinstance(sub.get("name"), str)
         and isinstance(sub.get("version"), str), "submission needs a name and a version"),
        (isinstance(task, dict) and isinstance(task.get("id"), str)
         and isinstance(task.get("digest"), str), "task needs an id and a digest"),
        (record["protocol"] in ("online", "offline"), "protocol must be online or offline"),
        (isinstance(record["seed"], int) and not isinstance(record["seed"], bool),
         "seed must be an integer"),
        (isinstance(record["settings"], dict), "settings must be an object"),
        (record["status"] in ("ok", "failed"), "status must be ok or failed"),
    ]
    for ok, message in checks:
        if not ok:
            return message
    if record["status"] == "failed":
        return None if isinstance(record["error"], dict) else "a failed run needs an error"
    if not isinstance(result, dict) or not isinstance(result.get("scores"), dict):
        return "a successful run needs result.scores"
    if record["protocol"] == "online":
        return _online_problem(result, record["settings"])
    return _offline_problem(result, record["settings"])


def _online_problem(result: dict, settings: dict) -> str | None:
    """Finite returns, one per episode of the declared budget (and policy values alike)."""
    episodes = result.get("episodes")
    if not isinstance(episodes, dict) or not _numbers(episodes.get("returns")):
        return "an online result needs episodes.returns, a list of finite numbers"
    returns = episodes["returns"]
    if len(returns) != settings.get("num_episodes"):
        return (f"{len(returns)} returns, but settings.num_episodes is "
                f"{settings.get('num_episodes')}")
    values = episodes.get("policy_values")
    if values is not None and (not _numbers(values) or len(values) != len(returns)):
        return "episodes.policy_values must be null or one finite number per episode"
    return None


def _offline_problem(result: dict, settings: dict) -> str | None:
    """One cell with a finite value for each (epsilon, dataset size) the settings declare,
    and no other."""
    cells = result.get("cells")
    if not isinstance(cells, list) or not all(
            isinstance(c, dict) and {"epsilon", "dataset_episodes", "value"} <= set(c)
            for c in cells):
        return "an offline result needs cells with epsilon, dataset_episodes and value"
    if not _numbers([c["value"] for c in cells]):
        return "every offline cell needs a finite value"
    try:
        grid = sorted((float(e), int(n)) for e in settings["epsilons"]
                      for n in settings["dataset_episodes"])
        have = sorted((float(c["epsilon"]), int(c["dataset_episodes"])) for c in cells)
    except (KeyError, TypeError, ValueError):
        return "offline settings need lists of epsilons and dataset_episodes"
    if have != grid:
        return ("the cells are not the settings' grid of epsilons x dataset_episodes, each "
                "once")
    return None


def _numbers(values) -> bool:
    """A non-empty list of finite JSON numbers (json.loads reads NaN and Infinity too)."""
    if not isinstance(values, list) or not values:
        return False
    # JSON numbers decode to exactly int or float: their types in one C-level pass, the
    # per-value check (subclasses, minus bool) only if another type is there
    numbers = set(map(type, values)) <= {int, float} or all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return numbers and all(map(math.isfinite, values))


def pack(results_dir: Path, out_dir: Path, force: bool = False) -> tuple[int, int]:
    """Copy every readable result file under ``results_dir`` to ``out_dir`` gzipped
    (deterministically: no timestamp, no file name in the header), with the verification
    stamps; returns ``(written, already there)``.

    Nothing is written if a file under ``out_dir`` would be replaced by a different one
    (``force`` allows it), or if ``results_dir`` holds no result file: ``ResultFileError``
    says which."""
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    if not results_dir.is_dir():
        raise ResultFileError(f"results directory {results_dir} does not exist")
    files = _packed_files(results_dir, out_dir)
    if not any(path.name.startswith("seed-") for path in files):
        raise ResultFileError(f"{results_dir} holds no result file (seed-*.json): nothing "
                              "to pack")
    changed = [t for t, data in files.items() if t.exists() and t.read_bytes() != data]
    if changed and not force:
        raise ResultFileError(f"{len(changed)} file(s) under {out_dir} differ from what "
                              f"would replace them, e.g. {changed[0]}; nothing was written "
                              "(pack into another directory, or --force to replace them)")
    todo = {t: data for t, data in files.items() if not t.exists() or t.read_bytes() != data}
    for target, data in todo.items():
        write_atomic(target, data)
    return len(todo), len(files) - len(todo)


def _packed_files(results_dir: Path, out_dir: Path) -> dict[Path, bytes]:
    """Target path -> bytes of every packed result file and stamp."""
    files = {}
    for path in sorted(results_dir.rglob("seed-*.json")):
        target = out_dir / path.relative_to(results_dir).with_suffix(".json.gz")
        files[target] = gzip.compress(dumps(read_result(path)).encode("utf-8"),
                                      compresslevel=9, mtime=0)
    for stamp in sorted(results_dir.glob("*/verified.json")):  # rlbench_icl.stamps
        files[out_dir / stamp.relative_to(results_dir)] = stamp.read_bytes()
    return files


def append_timing(out_dir: Path, submission: str, entry: dict) -> None:
    """Append one line to the submission's timings log (wall times are not results)."""
    path = Path(out_dir) / submission / "timings.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")


def _round_floats(value):
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value} in a result")
        return float(f"{value:.{FLOAT_DIGITS}g}")
    if isinstance(value, dict):
        return {k: _round_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round_floats(v) for v in value]
    return value
