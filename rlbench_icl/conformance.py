"""``check_agent``: a conformance check of a submission, run by the harness before scoring.

It plays the submission through the real protocols on two small MDPs that are not benchmark
tasks (a Garnet and a corridor with terminal states and a discounted objective), and checks
that every call respects the contract and that the same seed gives the same record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .contract import OnlineAgent, Submission, TaskInfo
from .errors import AgentCheckError
from .protocols import OfflineSettings, OnlineSettings, run_offline, run_online
from .registry import build_task
from .tasks import Task, TaskSpec


def check_agent(submission: Submission, protocols: tuple[str, ...] | None = None) -> None:
    """Raise ``AgentCheckError`` unless ``submission`` conforms for ``protocols``
    (default: all it declares)."""
    protocols = submission.protocols if protocols is None else protocols
    for protocol in protocols:
        if protocol not in submission.protocols:
            raise AgentCheckError(f"{submission.name} does not support the {protocol} protocol")
    for task in _check_tasks():
        if "online" in protocols:
            _check_online(submission, task)
        if "offline" in protocols:
            _check_offline(submission, task)


def _check_online(submission: Submission, task: Task) -> None:
    info = TaskInfo.from_task(task, num_episodes=3)
    try:
        agent = submission.make_online_agent(info, np.random.default_rng(0))
    except Exception as exc:
        raise AgentCheckError(f"{submission.name}: make_online_agent raised {exc!r} on "
                              f"{task.id}") from exc
    if not isinstance(agent, OnlineAgent):
        missing = [m for m in ("act", "observe", "end_episode") if not hasattr(agent, m)]
        raise AgentCheckError(f"{submission.name}: the online agent lacks {missing}")
    settings = OnlineSettings(num_episodes=3)
    first = _guarded(run_online, task, submission, settings, submission.name)
    second = _guarded(run_online, task, submission, settings, submission.name)
    if first != second:
        raise AgentCheckError(f"{submission.name}: the same seed gave different online runs on "
                              f"{task.id}; draw randomness only from the rng you are given")


def _check_offline(submission: Submission, task: Task) -> None:
    settings = OfflineSettings(dataset_episodes=(1, 3), epsilons=(1.0,))
    first = _guarded(run_offline, task, submission, settings, submission.name)
    second = _guarded(run_offline, task, submission, settings, submission.name)
    if first != second:
        raise AgentCheckError(f"{submission.name}: the same seed gave different offline "
                              f"policies on {task.id}")


def _guarded(run, task, submission, settings, name) -> dict:
    try:
        return run(task, submission, settings, seed=0)
    except Exception as exc:
        raise AgentCheckError(f"{name} failed the conformance check on {task.id}: {exc}"
                              ) from exc


def _check_tasks() -> list[Task]:
    here = Path(__file__)
    garnet = TaskSpec(
        id="AgentCheckGarnet-v0", description="conformance check", reference="", tags=(),
        builder="garnet", params={"num_states": 5, "num_actions": 3, "branching": 2,
                                  "seed": 0},
        horizon=4, discount=1.0, objective="finite", online_episodes=3,
        offline_dataset_episodes=(1, 3), offline_epsilons=(1.0,), source=here)
    corridor = TaskSpec(
        id="AgentCheckCorridor-v0", description="conformance check", reference="", tags=(),
        builder="distractor_chain", params={"num_states": 5, "start": 2, "near_reward": 0.1,
                                            "far_reward": 1.0, "slip": 0.2},
        horizon=6, discount=0.9, objective="discounted", online_episodes=3,
        offline_dataset_episodes=(1, 3), offline_epsilons=(1.0,), source=here)
    return [build_task(garnet), build_task(corridor)]
