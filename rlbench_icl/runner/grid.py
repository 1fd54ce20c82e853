"""A grid of runs into a results directory: lock it, reuse what is stored, run the rest.

The main process writes every record atomically as it arrives, so a killed grid leaves only
whole files; re-running the same grid skips runs whose stored record matches.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .. import store
from ..discovery import changed_files
from ..errors import RlbenchIclError
from .dispatch import execute_all
from .plan import RunSpec


@dataclass
class GridReport:
    """What a grid produced: every record of the grid (new and reused) and the counts."""

    records: list[dict]
    executed: int
    skipped: int

    @property
    def failed(self) -> list[dict]:
        """The records whose run did not finish."""
        return [r for r in self.records if r["status"] != "ok"]


class CodeChangedError(RlbenchIclError):
    """Stored runs that a submission's changed code would silently reuse or overwrite."""


class GridInterrupted(KeyboardInterrupt):
    """Ctrl-C during a grid: how many runs were stored, and how to go on."""

    def __init__(self, done: int, total: int, out_dir: Path):
        super().__init__(f"interrupted: {done} of {total} runs finished and are stored in "
                         f"{out_dir}; the same command resumes from them")


def run_grid(runs: Sequence[RunSpec], out_dir: Path, jobs: int = 1, force: bool = False,
             backend: str | None = None, progress: bool = True,
             isolate: bool = False) -> GridReport:
    """Execute the runs not already stored (all with ``force``) and store their records.

    The submission's results directory is locked while the grid runs: a second ``run``
    into the same directory waits, then reuses what the first stored (no work twice).
    ``isolate``: each run in a process of its own (``execute_isolated``), for backends that
    cannot survive a worker killed by its agent (Dask, Ray)."""
    out_dir = Path(out_dir)
    with ExitStack() as locks:
        for name in sorted({run.submission["name"] for run in runs}):
            locks.enter_context(_directory_lock(out_dir / name))
        return _run_and_store(runs, out_dir, jobs, force, backend, progress, isolate)


def _run_and_store(runs, out_dir: Path, jobs, force, backend, progress,
                   isolate) -> GridReport:
    stored, todo = _reusable_records(runs, out_dir, force)
    results = execute_all(todo, jobs, backend, isolate)
    bar = tqdm(total=len(todo), unit="run", desc="runs", disable=not progress or not todo)
    done = 0
    try:
        with bar:
            for run, record, seconds in results:
                stored[run.path(out_dir)] = _store(run, record, seconds, out_dir)
                done += 1
                bar.update()
    except KeyboardInterrupt:
        raise GridInterrupted(done, len(todo), out_dir) from None
    return GridReport(records=[stored[r.path(out_dir)] for r in runs], executed=len(todo),
                      skipped=len(runs) - len(todo))


def _reusable_records(runs, out_dir: Path, force: bool) -> tuple[dict[Path, dict], list]:
    """The stored records that can be reused, by file, and the runs still to execute.

    Raises ``CodeChangedError`` if a stored run is the same run but from other code (the
    submission's source or declared files changed, its version did not): reusing it would
    show old numbers for new code, and re-running it silently would overwrite them."""
    stored: dict[Path, dict] = {}
    todo = []
    for run in runs:
        record = None if force else _stored_record(run, out_dir)
        if record is None:
            todo.append(run)
        elif store.identity(record) == run.identity():
            stored[run.path(out_dir)] = record
        elif store.identity({**record, "code": run.code}) == run.identity():
            raise CodeChangedError(_code_change_message(run, record, out_dir))
        else:
            todo.append(run)
    return stored, todo


def _code_change_message(run: RunSpec, record: dict, out_dir: Path) -> str:
    name, version = run.submission["name"], run.submission["version"]
    what = ("were stored without a code hash (an older harness)" if not record.get("code")
            else f"come from other code: {', '.join(changed_files(record['code'], run.code))} "
                 "changed")
    return (f"stored runs of {name} version {version} in {out_dir} {what}. Bump the "
            f"submission's version to keep both, or re-run them with --force")


def _stored_record(run: RunSpec, out_dir: Path) -> dict | None:
    """The run's stored successful record, if readable (failures may be transient, such as
    a timeout: they are run again)."""
    path = run.path(out_dir)
    if not path.exists():
        return None
    try:
        record = store.read_result(path)
    except store.ResultFileError as exc:  # made again; say so, as the file is replaced
        print(f"cannot reuse a stored result, making it again: {exc}", file=sys.stderr)
        return None
    return record if record["status"] == "ok" else None


def _store(run: RunSpec, record: dict, seconds: float, out_dir: Path) -> dict:
    """Write the run's record and its wall time; return the record as stored."""
    store.write_atomic(run.path(out_dir), store.dumps(record))
    store.append_timing(out_dir, run.submission["name"], {
        "task": run.task["id"], "protocol": run.protocol, "seed": run.seed,
        "status": record["status"], "wall_seconds": round(seconds, 3)})
    return store.read_result(run.path(out_dir))


@contextmanager
def _directory_lock(directory: Path):
    """An exclusive advisory lock on ``directory/.lock`` (released by the OS even if the
    process is killed). Without ``fcntl`` (Windows) there is no lock. Waiting for it is said
    on stderr, even with --quiet: a run that waits in silence looks hung."""
    try:
        import fcntl

        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / ".lock", "a")  # noqa: SIM115 (closed below)
    except (ImportError, OSError):  # no fcntl, or a read-only directory: nothing to guard
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another rlbench-icl run is writing into {directory}; waiting for it "
                  "to finish (its results will be reused)", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
