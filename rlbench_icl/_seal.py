"""The seal of an agent process: once ``seal()`` is called, this process builds no task.

The sealed agent process (``rlbench_icl.sealed.host``) calls it before it imports any
submission, so an agent that imports the registry gets a clear refusal instead of the
transition matrix of the task it plays. It is a guard against accidents and casual
cheating, not a sandbox: code in the process could undo it, and task files are public data.
What the seal does not stop, the process boundary does: the harness's task, simulator and
score live in another process.
"""

from __future__ import annotations

from .errors import RlbenchIclError

_SEALED = False


class SealedProcessError(RlbenchIclError):
    """Something an agent process may not do (build a task) was attempted."""


def seal() -> None:
    global _SEALED
    _SEALED = True


def check_unsealed(what: str) -> None:
    """Raise ``SealedProcessError`` if this is a sealed agent process."""
    if _SEALED:
        raise SealedProcessError(f"{what}: an agent process cannot build tasks (it is told "
                                 "only TaskInfo, its transitions and its datasets)")
