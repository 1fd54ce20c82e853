"""rlbench-icl: a benchmark for in-context reinforcement learning on held-out tabular MDPs.

Importing the package registers every task as a gymnasium environment ``rlbench_icl/<id>``.
The core (tasks, protocols, scoring) never imports torch; only ``rlbench_icl.fm`` does.
"""

from . import cpu  # noqa: F401 - first: numpy without AVX-512 kernels (rlbench_icl/cpu.py)
from ._version import __version__
from .conformance import check_agent
from .contract import Dataset, OnlineAgent, PolicyAgent, Submission, TaskInfo
from .dynprog import (
    backward_induction,
    discounted_optimal_values,
    discounted_policy_value,
    flat_transitions,
    greedy_policy,
    policy_chain,
    policy_value,
    uniform_policy,
)
from .envs import TabularEnv, register_envs
from .errors import (
    AgentCheckError,
    ConfigError,
    ResultFileError,
    RlbenchIclError,
    SubmissionError,
    TaskFileError,
    UnknownNameError,
)
from .experience import ExperienceStatistic
from .mdp import TabularMDP, expected_reward, make_absorbing
from .protocols import AgentError, OfflineSettings, OnlineSettings
from .registry import Registry, default_registry, load_registry
from .simulate import Simulator
from .tasks import Task, TaskSpec

__all__ = [
    "AgentCheckError",
    "AgentError",
    "ConfigError",
    "ResultFileError",
    "RlbenchIclError",
    "SubmissionError",
    "UnknownNameError",
    "Dataset",
    "ExperienceStatistic",
    "OfflineSettings",
    "OnlineAgent",
    "OnlineSettings",
    "PolicyAgent",
    "Submission",
    "TaskInfo",
    "__version__",
    "check_agent",
    "Registry",
    "Scores",
    "Simulator",
    "TabularEnv",
    "TabularMDP",
    "Task",
    "TaskFileError",
    "TaskSpec",
    "backward_induction",
    "default_registry",
    "discounted_optimal_values",
    "discounted_policy_value",
    "evaluate",
    "expected_reward",
    "flat_transitions",
    "greedy_policy",
    "load_registry",
    "load_results",
    "make_absorbing",
    "policy_chain",
    "policy_value",
    "register_envs",
    "uniform_policy",
]

register_envs()


def __getattr__(name: str):
    """``evaluate``, ``load_results`` and ``Scores`` (``rlbench_icl.api``) import the runner
    and the leaderboard, so they load on first use, not with the package."""
    if name in ("evaluate", "load_results", "Scores"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'rlbench_icl' has no attribute {name!r}")
