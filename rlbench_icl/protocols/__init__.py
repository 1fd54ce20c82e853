"""The two protocols. The harness owns the loop, the budget, the seeds and the bookkeeping."""

from .common import AgentError, check_action, check_policy, make_streams
from .offline import Dataset, OfflineSettings, collect_dataset, run_offline
from .online import OnlineSettings, online_scores, run_online

PROTOCOLS = ("online", "offline")

__all__ = [
    "PROTOCOLS",
    "AgentError",
    "Dataset",
    "OfflineSettings",
    "OnlineSettings",
    "check_action",
    "check_policy",
    "collect_dataset",
    "make_streams",
    "online_scores",
    "run_offline",
    "run_online",
]
