"""The runner: a grid of independent runs (submission x task x protocol x seed) through joblib.

Workers receive plain ``RunSpec`` values and resolve the task and submission themselves, so
nothing is pickled but strings and numbers. The main process writes every record atomically
as it arrives; re-running the same grid skips runs whose stored record matches.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import joblib
import numpy as np
from joblib.externals.loky.process_executor import TerminatedWorkerError
from scipy import stats
from tqdm.auto import tqdm

from . import store
from ._version import __version__
from .contract import Submission
from .discovery import load
from .protocols import SCORE_KEY, protocol_settings, run_offline, run_online, settings_from_dict
from .registry import Registry, load_registry
from .tasks import Task

ISOLATION_GRACE = 30.0  # seconds past --timeout before an isolated run is killed


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
        return store.result_path(out_dir, self.submission["name"], self.protocol,
                                 self.task["id"], self.seed)

    def identity(self) -> tuple:
        return store.identity(self._header())

    def _header(self) -> dict:
        return {"schema": store.SCHEMA, "harness_version": __version__,
                "submission": self.submission, "task": self.task, "protocol": self.protocol,
                "settings": self.settings, "seed": self.seed}


@dataclass
class GridReport:
    """What a grid produced: every record of the grid (new and reused) and the counts."""

    records: list[dict]
    executed: int
    skipped: int

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.records if r["status"] != "ok"]


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
    return {"id": task.id, "version": task.spec.version, "digest": task.digest,
            "optimal_value": task.optimal_value, "random_value": task.random_value}


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
        return _run_unlocked(runs, out_dir, jobs, force, backend, progress, isolate)


def _run_unlocked(runs, out_dir: Path, jobs, force, backend, progress, isolate) -> GridReport:
    stored: dict[Path, dict] = {}
    todo = []
    for run in runs:
        record = None if force else _stored_record(run, out_dir)
        if record is None:
            todo.append(run)
        else:
            stored[run.path(out_dir)] = record
    results = execute_all(todo, jobs, backend, isolate)
    bar = tqdm(total=len(todo), unit="run", desc="runs", disable=not progress or not todo)
    with bar:
        for run, record, seconds in results:
            store.write_atomic(run.path(out_dir), store.dumps(record))
            store.append_timing(out_dir, run.submission["name"], {
                "task": run.task["id"], "protocol": run.protocol, "seed": run.seed,
                "status": record["status"], "wall_seconds": round(seconds, 3)})
            stored[run.path(out_dir)] = store.read_result(run.path(out_dir))
            bar.update()
    return GridReport(records=[stored[r.path(out_dir)] for r in runs], executed=len(todo),
                      skipped=len(runs) - len(todo))


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


def execute_all(todo: list[RunSpec], jobs: int, backend: str | None, isolate: bool = False):
    """Yield ``(run, record, seconds)`` for every run, whatever happens to worker processes.

    If an agent kills its worker (``os._exit``, a segfault), joblib aborts the whole batch;
    the runs not yet returned are then executed one at a time in a fresh worker, so only the
    culprit is recorded as failed. (``backend=None`` follows the active
    ``joblib.parallel_config``: see ``rlbench_icl.backends``.)
    """
    done: set[Path] = set()  # runs come back from workers as copies: know them by their file
    try:
        for out in _dispatch(execute_isolated if isolate else execute, todo, jobs, backend):
            done.add(out[0].path(Path()))
            yield out
        return
    except TerminatedWorkerError:
        pass
    for run in todo:
        if run.path(Path()) in done:
            continue
        try:
            yield joblib.Parallel(n_jobs=2, backend="loky")([joblib.delayed(execute)(run)])[0]
        except TerminatedWorkerError as exc:
            yield run, _failed_record(run, f"the worker process died: {exc}"), 0.0


def _dispatch(function, todo: list[RunSpec], jobs: int, backend: str | None):
    """Results as they complete; for backends that only return whole lists (Ray's), chunk
    by chunk, so that finished runs are stored as the grid goes."""
    try:
        parallel = joblib.Parallel(n_jobs=jobs, backend=backend, return_as="generator_unordered")
    except ValueError:  # "does not support return_as=generator_unordered"
        parallel = None
    if parallel is not None:
        yield from parallel(joblib.delayed(function)(run) for run in todo)
        return
    chunk = 4 * max(jobs, 1)
    for start in range(0, len(todo), chunk):
        yield from joblib.Parallel(n_jobs=jobs, backend=backend)(
            joblib.delayed(function)(run) for run in todo[start:start + chunk])


def execute_isolated(run: RunSpec) -> tuple[RunSpec, dict, float]:
    """``execute`` in a fresh Python process: an agent that kills its process (``os._exit``,
    a segfault) fails only its run. Joblib's Dask backend hangs when a worker dies, so
    cluster runs go through here; the cost is one interpreter start per run (about a
    second). A subprocess, not multiprocessing: Dask workers are daemonic and may not fork
    children of their own. The record comes back through a file, so agents may print.
    With a time limit the child's whole process group is killed ISOLATION_GRACE seconds
    after it, should the agent ignore the alarm or leave processes behind."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rlbench-icl-run-") as tmp:
        spec, out, err = (Path(tmp) / name for name in ("run.json", "record.json", "err"))
        spec.write_text(json.dumps(dataclasses.asdict(run)))
        limit = None if run.timeout is None else run.timeout + ISOLATION_GRACE
        with open(err, "w") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "rlbench_icl.runner", str(spec), str(out)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                start_new_session=True)  # its own process group, killed as one
            try:
                code = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                code = None
            _kill_group(proc)  # and whatever the agent left running
        tail = "\n".join(err.read_text(errors="replace").strip().splitlines()[-5:])
        if code == 0 and out.exists():
            record = json.loads(out.read_text())
        elif code is None:
            record = _failed_record(run, f"the run passed its time limit of {run.timeout} s "
                                         "and was killed", tail)
        else:
            record = _failed_record(run, f"the worker process died (exit code {code})", tail)
    return run, record, time.monotonic() - start


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _execute_from_file(spec: str, out: str) -> None:
    data = json.loads(Path(spec).read_text())
    data["task_paths"] = tuple(data["task_paths"])
    _, record, _ = execute(RunSpec(**data))
    Path(out).write_text(json.dumps(record))


def _failed_record(run: RunSpec, message: str, trace: str = "") -> dict:
    where = (f"agent {run.submission['name']}, task {run.task['id']}, {run.protocol}, "
             f"seed {run.seed}")
    return {**run._header(), "status": "failed", "result": None,
            "error": {"message": f"{where}: {message}", "traceback": trace}}


def execute(run: RunSpec) -> tuple[RunSpec, dict, float]:
    """Run one ``RunSpec``; never raises: a failure becomes a failed record."""
    start = time.monotonic()
    try:
        task = _registry(run.task_paths).make(run.task["id"])
        if task.digest != run.task["digest"]:
            raise RuntimeError("the task changed between planning and running")
        deadline = None if run.timeout is None else start + run.timeout
        with _time_limit(run.timeout):
            result = _run_protocol(run, task, load(run.submission_ref), deadline)
    except Exception as exc:
        record = _failed_record(run, str(exc), traceback.format_exc())
    else:
        record = {**run._header(), "status": "ok", "error": None, "result": result}
    return run, record, time.monotonic() - start


def _run_protocol(run: RunSpec, task: Task, submission: Submission, deadline) -> dict:
    settings = settings_from_dict(run.protocol, run.settings)
    play = run_online if run.protocol == "online" else run_offline
    return play(task, submission, settings, run.seed, deadline)


def summary_rows(records: Sequence[dict]) -> tuple[list[list], dict[str, float]]:
    """Per (protocol, task): runs, failures, mean score and its standard error; and the IQM
    of all successful run scores per protocol."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["protocol"], r["task"]["id"]), []).append(r)
    rows, by_protocol = [], {}
    for (protocol, task_id), group in sorted(groups.items()):
        scores = [r["result"]["scores"][SCORE_KEY[protocol]] for r in group
                  if r["status"] == "ok"]
        by_protocol.setdefault(protocol, []).extend(scores)
        mean = float(np.mean(scores)) if scores else float("nan")
        se = float(np.std(scores, ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else 0.0
        rows.append([protocol, task_id, len(group), len(group) - len(scores), mean, se])
    iqm = {p: float(stats.trim_mean(s, 0.25)) for p, s in by_protocol.items() if s}
    return rows, iqm


def _stored_record(run: RunSpec, out_dir: Path) -> dict | None:
    path = run.path(out_dir)
    if not path.exists():
        return None
    try:
        record = store.read_result(path)
    except store.ResultFileError:
        return None
    if record["status"] != "ok":  # failures may be transient (a timeout): run them again
        return None
    return record if store.identity(record) == run.identity() else None


@lru_cache(maxsize=8)
def _registry(task_paths: tuple[str, ...]) -> Registry:
    return load_registry(task_paths)


@contextmanager
def _time_limit(seconds: float | None):
    """Interrupt a hung agent call with ``TimeoutError`` (SIGALRM, main thread only; other
    threads rely on the protocols' per-episode deadline check)."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError(f"the run passed its time limit of {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


if __name__ == "__main__":  # the child of ``execute_isolated``
    _execute_from_file(*sys.argv[1:3])
