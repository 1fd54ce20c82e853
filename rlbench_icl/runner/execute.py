"""One run: resolve the task, play the protocol against the submission, make a record.

A sealed run (the default) plays against the submission in a process of its own
(``rlbench_icl.sealed``): this process holds the task, the simulator and the score, and
never imports the submission's code. An in-process run imports it here (fast, for
development; the leaderboard ranks sealed runs only); a time limit then interrupts a hung
agent call with SIGALRM where it can.

``execute`` never raises: whatever goes wrong becomes a failed record that names the run, so
a grid always completes.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
import warnings
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from ..contract import Submission
from ..cpu import numpy_runs_avx512
from ..discovery import load
from ..errors import bounded
from ..protocols import run_offline, run_online, settings_from_dict
from ..registry import BUILTIN_TASK_DIR, TASK_PATH_ENV, Registry, load_registry
from ..sealed import Limits, sealed_submission
from ..tasks import Task
from .plan import RunSpec

MAX_MESSAGE = 2_000
MAX_TRACEBACK = 20_000


def execute(run: RunSpec) -> tuple[RunSpec, dict, float]:
    """Run one ``RunSpec``; never raises: a failure becomes a failed record."""
    start = time.monotonic()
    try:
        task = _registry(run.task_paths, task_files_state(run.task_paths)).make(run.task["id"])
        if task.digest != run.task["digest"]:
            raise RuntimeError("the task changed between planning and running")
        deadline = None if run.timeout is None else start + run.timeout
        with _submission(run) as submission:
            result = _run_protocol(run, task, submission, deadline)
    except (Exception, SystemExit) as exc:  # an in-process agent's sys.exit() too
        record = failed_record(run, _message(exc), _traceback(exc))
    else:
        record = {**run.header(), "status": "ok", "error": None, "result": result}
    return run, record, time.monotonic() - start


@contextmanager
def _submission(run: RunSpec):
    """The submission, sealed in its own process or loaded here (with SIGALRM limits)."""
    if run.isolation == "sealed":
        limits = Limits(wall_seconds=run.timeout, memory_bytes=run.memory)
        with sealed_submission(run.submission_ref, limits) as submission:
            yield submission
    else:
        _warn_if_numpy_unpinned()
        with _time_limit(run.timeout):
            yield load(run.submission_ref)


@lru_cache(maxsize=1)
def _warn_if_numpy_unpinned() -> None:
    """Once per process: an in-process run computes with this process's numpy, and if it
    runs AVX-512 kernels the run may differ in its last bits from a sealed one (whose
    numpy never does) and from other CPUs (rlbench_icl/cpu.py)."""
    if numpy_runs_avx512():
        warnings.warn("numpy in this process runs AVX-512 kernels (it was imported before "
                      "rlbench_icl, or NPY_DISABLE_CPU_FEATURES keeps them): in-process runs "
                      "may differ in their last bits from sealed runs and other CPUs. Import "
                      "rlbench_icl before numpy, or run sealed (the default).",
                      RuntimeWarning, stacklevel=2)


def failed_record(run: RunSpec, message: str, trace: str = "") -> dict:
    """The record of a run that did not finish; the message starts with the run's cell.
    Message and traceback are bounded in size."""
    where = (f"agent {run.submission['name']}, task {run.task['id']}, {run.protocol}, "
             f"seed {run.seed}")
    return {**run.header(), "status": "failed", "result": None,
            "error": {"message": bounded(f"{where}: {message}", MAX_MESSAGE),
                      "traceback": bounded(trace, MAX_TRACEBACK)}}


def _message(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"the agent called sys.exit({exc.code!r})"
    try:
        return str(exc)
    except Exception:  # an exception whose text itself raises
        return f"<{type(exc).__name__} whose message raised>"


def _traceback(exc: BaseException) -> str:
    """The agent process's traceback for a sealed run (found on the cause chain), else this
    process's."""
    cause: BaseException | None = exc
    while cause is not None:
        remote = getattr(cause, "remote_traceback", None)
        if remote:
            return remote
        cause = cause.__cause__
    try:
        return traceback.format_exc()
    except Exception:  # e.g. a MemoryError while formatting
        return ""


def _run_protocol(run: RunSpec, task: Task, submission: Submission, deadline) -> dict:
    settings = settings_from_dict(run.protocol, run.settings)
    play = run_online if run.protocol == "online" else run_offline
    if submission.frozen_state is None:
        return play(task, submission, settings, run.seed, deadline)
    before = _frozen_state(submission)
    result = play(task, submission, settings, run.seed, deadline)
    after = _frozen_state(submission)
    if after != before:
        raise RuntimeError(f"the submission changed its frozen state during the run "
                           f"(before {before}, after {after}): its weights must not change "
                           "while it plays")
    return {**result, "frozen_state": {"before": before, "after": after}}


def _frozen_state(submission: Submission) -> str:
    state = submission.frozen_state()
    if not isinstance(state, str) or not state:
        raise TypeError(f"frozen_state() must return a non-empty str, got {state!r}")
    return state


def task_files_state(task_paths: tuple[str, ...]) -> tuple:
    """(path, size, mtime) of every task file a registry would read: a worker reuses its
    registry only while they are unchanged (a long-lived worker pool sees edited files)."""
    extra = [p for p in os.environ.get(TASK_PATH_ENV, "").split(os.pathsep) if p]
    directories = [BUILTIN_TASK_DIR, *extra, *task_paths]
    files = sorted(f for d in directories if Path(d).is_dir() for f in Path(d).glob("*.toml"))
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@lru_cache(maxsize=8)
def _registry(task_paths: tuple[str, ...], state: tuple) -> Registry:
    """One registry per worker, task path list and state of the task files: the files are
    read once, not per run."""
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
