"""The errors a user can fix, under one base class.

Every error raised for bad input (a task file, a submission, a result file, a training
config, a backend, a verification stamp) derives from ``RlbenchIclError``; its message says
what is wrong and where. The command line prints that message, never a traceback. An agent
that breaks the contract during a run is not one of these: that run is recorded as failed
(``protocols.AgentError``) and the grid goes on.
"""

from __future__ import annotations


class RlbenchIclError(Exception):
    """Base of every user-facing error: the message is complete on its own."""


class TaskFileError(RlbenchIclError, ValueError):
    """A task file that cannot be read, or a task that cannot be declared or built."""


class UnknownNameError(RlbenchIclError, KeyError):
    """A task id or tag that is not registered (the message suggests the closest)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SubmissionError(RlbenchIclError, ValueError):
    """A submission that cannot be found or loaded."""


class MissingExtraError(SubmissionError, ImportError):
    """A submission (or command) needs an optional dependency that is not installed; the
    message says which extra installs it."""


class AgentCheckError(RlbenchIclError, ValueError):
    """The submission does not conform to the contract; the message says how."""


class ResultFileError(RlbenchIclError, ValueError):
    """A result file that cannot be read or does not follow the schema."""


class StampError(RlbenchIclError, ValueError):
    """A verification stamp that does not describe this submission's files."""


class ConfigError(RlbenchIclError, ValueError):
    """A training config that cannot be read, or that contradicts a run being resumed."""


class OutputError(RlbenchIclError, OSError):
    """An output directory that cannot be created or written into."""


class BackendError(RlbenchIclError, RuntimeError):
    """A backend that cannot be started (not installed, or its scheduler unreachable)."""


def bounded(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, keeping its start and end: an agent's
    50 MB exception message must not become a 50 MB result file."""
    if len(text) <= limit:
        return text
    return f"{text[:limit // 2]} [... {len(text) - limit} characters cut ...] {text[-limit // 2:]}"
