"""One run in a fresh Python process, for backends whose workers must not die (Dask, Ray).

The parent writes the ``RunSpec`` to a file, starts ``python -m rlbench_icl.runner SPEC OUT``
(``__main__.py``, which calls ``run_child``) and reads the record back from ``OUT``. A child
that dies or passes its time limit becomes a failed record, with the tail of its stderr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .execute import execute, failed_record
from .plan import RunSpec

ISOLATION_GRACE = 30.0  # seconds past --timeout before an isolated run is killed
CHILD_MODULE = "rlbench_icl.runner"  # its __main__.py is the child's entry point


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
        code = _wait_for_child(spec, out, err, limit)
        record = _child_record(run, code, out, err)
    return run, record, time.monotonic() - start


def run_child(spec: str, out: str) -> None:
    """The child's side of ``execute_isolated``: execute the ``RunSpec`` stored in ``spec``
    and write its record to ``out``."""
    data = json.loads(Path(spec).read_text())
    data["task_paths"] = tuple(data["task_paths"])
    _, record, _ = execute(RunSpec(**data))
    Path(out).write_text(json.dumps(record))


def _wait_for_child(spec: Path, out: Path, err: Path, limit: float | None) -> int | None:
    """The child's exit code, or None if it passed ``limit`` seconds. Either way its whole
    process group is gone on return, and its stderr is in ``err``."""
    with open(err, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", CHILD_MODULE, str(spec), str(out)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True)  # its own process group, killed as one
        try:
            code = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            code = None
        _kill_group(proc)  # and whatever the agent left running
    return code


def _child_record(run: RunSpec, code: int | None, out: Path, err: Path) -> dict:
    """The record the child wrote, or a failed record ending with its last stderr lines."""
    tail = "\n".join(err.read_text(errors="replace").strip().splitlines()[-5:])
    if code == 0 and out.exists():
        return json.loads(out.read_text())
    if code is None:
        return failed_record(run, f"the run passed its time limit of {run.timeout} s "
                                  "and was killed", tail)
    return failed_record(run, f"the worker process died (exit code {code})", tail)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
