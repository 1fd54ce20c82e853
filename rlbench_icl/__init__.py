"""rlbench-icl: a benchmark for in-context reinforcement learning on held-out tabular MDPs.

Importing the package registers every task as a gymnasium environment ``rlbench_icl/<id>``.
The core (tasks, protocols, scoring) never imports torch; only ``rlbench_icl.fm`` does.
"""

from .dynprog import (
    backward_induction,
    discounted_optimal_values,
    discounted_policy_value,
    greedy_policy,
    policy_value,
    uniform_policy,
)
from .envs import TabularEnv, register_envs
from .mdp import TabularMDP, expected_reward, make_absorbing
from .registry import Registry, TaskFileError, default_registry, load_registry
from .simulate import Simulator
from .tasks import Task, TaskSpec

__version__ = "0.1.0"

__all__ = [
    "Registry",
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
    "expected_reward",
    "greedy_policy",
    "load_registry",
    "make_absorbing",
    "policy_value",
    "register_envs",
    "uniform_policy",
]

register_envs()
