"""One run in this process: resolve the task and submission, play the protocol, make a record.

``execute`` never raises: whatever goes wrong becomes a failed record that names the run, so
a grid always completes. A time limit interrupts a hung agent call with SIGALRM where it can.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from ..contract import Submission
from ..discovery import load
from ..protocols import run_offline, run_online, settings_from_dict
from ..registry import BUILTIN_TASK_DIR, TASK_PATH_ENV, Registry, load_registry
from ..tasks import Task
from .plan import RunSpec


def execute(run: RunSpec) -> tuple[RunSpec, dict, float]:
    """Run one ``RunSpec``; never raises: a failure becomes a failed record."""
    start = time.monotonic()
    try:
        task = _registry(run.task_paths, task_files_state(run.task_paths)).make(run.task["id"])
        if task.digest != run.task["digest"]:
            raise RuntimeError("the task changed between planning and running")
        deadline = None if run.timeout is None else start + run.timeout
        with _time_limit(run.timeout):
            result = _run_protocol(run, task, load(run.submission_ref), deadline)
    except Exception as exc:
        record = failed_record(run, str(exc), traceback.format_exc())
    else:
        record = {**run.header(), "status": "ok", "error": None, "result": result}
    return run, record, time.monotonic() - start


def failed_record(run: RunSpec, message: str, trace: str = "") -> dict:
    """The record of a run that did not finish; the message starts with the run's cell."""
    where = (f"agent {run.submission['name']}, task {run.task['id']}, {run.protocol}, "
             f"seed {run.seed}")
    return {**run.header(), "status": "failed", "result": None,
            "error": {"message": f"{where}: {message}", "traceback": trace}}


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
