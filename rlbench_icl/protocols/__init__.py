"""The two protocols. The harness owns the loop, the budget, the seeds and the bookkeeping.

``protocol_settings(task, protocol)`` gives the settings a task declares for a protocol (what
the leaderboard ranks on); ``SCORE_KEY`` names the score a run of each protocol is ranked by.
"""

from __future__ import annotations

from ..tasks import Task
from .common import AgentError, check_action, check_policy, make_streams
from .offline import OfflineSettings, collect_dataset, protocol_datasets, run_offline
from .online import OnlineSettings, online_scores, run_online

PROTOCOLS = ("online", "offline")
SCORE_KEY = {"online": "online_score", "offline": "offline_score"}


def protocol_settings(task: Task, protocol: str, num_episodes: int | None = None
                      ) -> OnlineSettings | OfflineSettings:
    """The task's declared settings for ``protocol`` (``num_episodes`` overrides K online)."""
    if protocol == "online":
        return OnlineSettings(num_episodes=num_episodes or task.spec.online_episodes)
    return OfflineSettings(dataset_episodes=task.spec.offline_dataset_episodes,
                           epsilons=task.spec.offline_epsilons)


def settings_from_dict(protocol: str, data: dict) -> OnlineSettings | OfflineSettings:
    """The settings of a stored record (``to_dict``'s inverse)."""
    if protocol == "online":
        return OnlineSettings(**data)
    return OfflineSettings(**{k: tuple(v) for k, v in data.items()})


__all__ = [
    "PROTOCOLS",
    "SCORE_KEY",
    "AgentError",
    "OfflineSettings",
    "OnlineSettings",
    "check_action",
    "check_policy",
    "collect_dataset",
    "make_streams",
    "online_scores",
    "protocol_datasets",
    "protocol_settings",
    "run_offline",
    "run_online",
    "settings_from_dict",
]
