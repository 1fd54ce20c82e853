"""Every registered task as a real gymnasium environment: ``gymnasium.make("rlbench_icl/<id>")``.

A family is one too: ``gymnasium.make("rlbench_icl/Maze-v0", instance=3, instance_seed=7)``
is instance 3 of seed 7 (both default to 0).
"""

from __future__ import annotations

import warnings

import gymnasium
from gymnasium import spaces

from .mdp import TabularMDP
from .registry import Registry, TaskFileError, default_registry
from .simulate import Simulator

NAMESPACE = "rlbench_icl"


class TabularEnv(gymnasium.Env):
    """A ``TabularMDP`` as a gymnasium env with ``Discrete(S)`` observations and actions.

    ``terminated`` is True on entering a terminal state; ``truncated`` after H steps. The info
    dict is empty. Give a registered ``task_id`` (a fixed task or an instance id), an ``mdp``,
    or a ``family`` with its ``instance`` index and ``instance_seed``.
    """

    metadata = {"render_modes": []}

    def __init__(self, task_id: str | None = None, mdp: TabularMDP | None = None,
                 family: str | None = None, instance: int = 0, instance_seed: int = 0):
        if family is not None:
            task_id = default_registry().family(family).instance_id(instance_seed, instance)
        if (task_id is None) == (mdp is None):
            raise ValueError("give exactly one of task_id, family and mdp")
        self.task = None if task_id is None else default_registry().make(task_id)
        self.mdp = mdp if mdp is not None else self.task.mdp
        self.observation_space = spaces.Discrete(self.mdp.num_states)
        self.action_space = spaces.Discrete(self.mdp.num_actions)
        self._simulator: Simulator | None = None
        self._state = -1
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None or self._simulator is None:
            self._simulator = Simulator(self.mdp, self.np_random)
        self._state = self._simulator.reset()
        self._steps = 0
        return self._state, {}

    def step(self, action):
        if self._simulator is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        reward, self._state, terminated = self._simulator.step(self._state, int(action))
        self._steps += 1
        truncated = self._steps >= self.mdp.horizon and not terminated
        return self._state, float(reward), terminated, truncated, {}


def register_envs(registry: Registry | None = None) -> None:
    """Register ``rlbench_icl/<id>`` for every task and family of the registry (default: the
    built-ins).

    At import a broken task directory must not make the package unusable: the default
    registry's error becomes a warning here (and is raised again where tasks are used).
    """
    if registry is None:
        try:
            registry = default_registry()
        except TaskFileError as exc:
            warnings.warn(f"gymnasium environments not registered: {exc}", stacklevel=2)
            return
    for task_id in registry.ids:
        env_id = f"{NAMESPACE}/{task_id}"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="rlbench_icl.envs:TabularEnv",
                               kwargs={"task_id": task_id},
                               max_episode_steps=registry.spec(task_id).horizon)
    for family in registry.family_ids:  # horizons differ by instance: the env truncates
        env_id = f"{NAMESPACE}/{family}"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="rlbench_icl.envs:TabularEnv",
                               kwargs={"family": family})
