"""Sealed runs: the agent in a process of its own, the task and the score in the harness's.

- ``wire``: the messages (JSON headers and raw numeric arrays; nothing is unpickled);
- ``host``: the agent's process, ``python -m rlbench_icl.sealed.host``;
- ``proxy``: the harness's side, a ``Submission`` whose calls go to that process, with
  limits on wall-clock time, CPU time and memory enforced from outside.

What an agent process can see: its ``TaskInfo``, the states, actions and rewards of its own
episodes, its offline datasets and its random generator. It cannot see the task's P, R or
mu0, the simulator, or its own score, and it builds no task (``rlbench_icl._seal``). It can
read files: this is process isolation, not a sandbox against a submitter who reads the
public task files; reviewers read the code of anything the leaderboard ranks.
"""

from .proxy import (
    DEFAULT_MEMORY,
    AgentProcess,
    Limits,
    RemoteAgent,
    kill_live_agents,
    opened_submission,
    sealed_submission,
)

__all__ = ["DEFAULT_MEMORY", "AgentProcess", "Limits", "RemoteAgent", "kill_live_agents",
           "opened_submission", "sealed_submission"]
