"""Many runs through joblib, on whatever backend is active, surviving workers that die.

Workers receive plain ``RunSpec`` values and resolve the task and submission themselves, so
nothing is pickled but strings and numbers. A worker the harness started itself (loky's)
ends with the harness: killed, the harness would otherwise leave its workers to finish their
runs and then idle for loky's idle timeout (five minutes), their agent processes with them.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import joblib
from joblib.externals.loky.process_executor import TerminatedWorkerError

from ..sealed import kill_live_agents
from .execute import execute, failed_record
from .isolation import execute_isolated
from .plan import RunSpec


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
            yield joblib.Parallel(n_jobs=2, backend="loky")(
                [joblib.delayed(_in_worker)(execute, os.getpid(), run)])[0]
        except TerminatedWorkerError as exc:
            yield run, failed_record(run, f"the worker process died: {exc}"), 0.0


def _dispatch(function, todo: list[RunSpec], jobs: int, backend: str | None):
    """Results as they complete; for backends that only return whole lists (Ray's), chunk
    by chunk, so that finished runs are stored as the grid goes."""
    try:
        parallel = joblib.Parallel(n_jobs=jobs, backend=backend, return_as="generator_unordered")
    except ValueError:  # "does not support return_as=generator_unordered"
        parallel = None
    harness = os.getpid()
    if parallel is not None:
        yield from parallel(joblib.delayed(_in_worker)(function, harness, run) for run in todo)
        return
    chunk = 4 * max(jobs, 1)
    for start in range(0, len(todo), chunk):
        yield from joblib.Parallel(n_jobs=jobs, backend=backend)(
            joblib.delayed(_in_worker)(function, harness, run)
            for run in todo[start:start + chunk])


WATCH_INTERVAL = 0.5
"""Seconds between a worker's checks that its harness is still there."""
_watching = False


def _in_worker(function, harness: int, run: RunSpec):
    """``function(run)``, in a worker that ends with ``harness`` if the harness started it."""
    _end_with(harness)
    return function(run)


def _end_with(harness: int) -> None:
    """In a child of ``harness`` (a loky worker; not the harness itself, nor a Dask or Ray
    worker, whose parent is their own), start once a daemon thread that kills this process's
    agent processes and exits as soon as the harness is gone (this process re-parented).
    Polling, not PR_SET_PDEATHSIG: that signal follows the thread that forked the worker,
    which may end while the harness lives."""
    global _watching
    if _watching or os.getppid() != harness:
        return
    _watching = True
    threading.Thread(target=_watch, args=(harness,), daemon=True,
                     name="rlbench-icl-harness-watch").start()


def _watch(harness: int) -> None:
    while os.getppid() == harness:
        time.sleep(WATCH_INTERVAL)
    try:
        kill_live_agents()
    finally:  # whatever the cleanup meets, the worker does not outlive its harness
        os._exit(1)
