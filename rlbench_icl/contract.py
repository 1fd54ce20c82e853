"""The submission contract: what an agent is told, what it must do, and how it is described.

A submission is a ``Submission`` value: metadata plus one factory per protocol it supports.

- Online, the harness calls ``make_online_agent(info, rng)`` once per run, then owns the loop::

      for episode in range(info.num_episodes):
          state = <drawn from mu0>
          for step in range(info.horizon):
              action = agent.act(state, step)
              reward, next_state, terminated = <drawn from the task>
              agent.observe(state, action, reward, next_state, terminated)
              if terminated: break
              state = next_state
          agent.end_episode()
          if the agent has policy(): <exact value of agent.policy() recorded>

- Offline, the harness calls ``solve_offline(info, dataset, rng)`` and scores the returned
  policy by its exact value.

The agent never sees P, R, mu0 or the task's id; it cannot touch its own score. Submitters
need not inherit anything: ``OnlineAgent`` is a structural ``typing.Protocol``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from .tasks import Task

SUBMISSION_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\Z")


@dataclass(frozen=True)
class TaskInfo:
    """The public spec of a task: everything an agent is told.

    Attributes:
        num_states: S; states are ``0..S-1``.
        num_actions: A; actions are ``0..A-1``.
        horizon: H, the maximum number of steps per episode.
        discount: gamma; returns are ``sum_{t<H} gamma**t r_t``.
        objective: ``finite`` (the H-step value is scored) or ``discounted`` (the
            infinite-horizon discounted value of a stationary policy is scored).
        reward_range: bounds on a realised reward (on the expected reward for Gaussian noise).
        reward_noise: ``deterministic`` (the reward is a function of (s, a, s'), so it can
            still vary given (s, a) when the successor is random, as in FrozenLake),
            ``bernoulli`` (rewards in {0, 1}) or ``gaussian``.
        num_episodes: K, the online episode budget (0 in the offline protocol).
    """

    num_states: int
    num_actions: int
    horizon: int
    discount: float
    objective: str
    reward_range: tuple[float, float]
    reward_noise: str
    num_episodes: int

    @property
    def reward_bound(self) -> float:
        """The largest |reward| the task declares: max |reward_range|."""
        return max(abs(r) for r in self.reward_range)

    @classmethod
    def from_task(cls, task: Task, num_episodes: int = 0) -> TaskInfo:
        m = task.mdp
        return cls(num_states=m.num_states, num_actions=m.num_actions, horizon=m.horizon,
                   discount=m.discount, objective=m.objective, reward_range=m.reward_bounds(),
                   reward_noise=m.reward_noise, num_episodes=num_episodes)


@runtime_checkable
class OnlineAgent(Protocol):
    """An online learner. The harness calls, in this order and no other:

    ``act`` then ``observe`` once per step, ``end_episode`` once per episode (also after an
    episode that ended by termination), then ``policy`` if the agent defines it.
    """

    def act(self, state: int, step: int) -> int:
        """Choose the action in ``state`` at ``step`` (0-based, < H) of the current episode.

        Must return an ``int`` (or numpy integer) in ``range(num_actions)``; anything else
        fails the run. Use only the ``rng`` given to the factory for randomness.
        """

    def observe(self, state: int, action: int, reward: float, next_state: int,
                terminated: bool) -> None:
        """The transition that just happened. ``terminated`` means ``next_state`` is terminal
        and the episode is over; otherwise the episode goes on from ``next_state`` (unless
        the step was the H-th)."""

    def end_episode(self) -> None:
        """The episode is over (terminated, or H steps taken). Re-plan here if you like."""


class PolicyAgent(OnlineAgent, Protocol):
    """An online agent that also exposes its current exploitation policy."""

    def policy(self) -> np.ndarray:
        """Current (S, A) or (H, S, A) action probabilities (rows sum to 1).

        Called after every ``end_episode``; the harness records its exact value, giving a
        noise-free learning curve. Must not change the agent's state.
        """


@dataclass(frozen=True, repr=False)
class Dataset:
    """Transitions of whole episodes, as read-only flat arrays of equal length N.

    Attributes:
        states, actions, next_states: (N,) int64. rewards: (N,) float64.
        terminated: (N,) bool, True where ``next_states`` is terminal (the episode ended).
        episode: (N,) int64 episode index (0-based, non-decreasing).
        step: (N,) int64 step within the episode.
        num_episodes: number of episodes (an episode has at least one transition).
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_states: np.ndarray
    terminated: np.ndarray
    episode: np.ndarray
    step: np.ndarray
    num_episodes: int

    def __post_init__(self) -> None:
        for name in ("states", "actions", "rewards", "next_states", "terminated", "episode",
                     "step"):
            getattr(self, name).flags.writeable = False

    def __len__(self) -> int:
        return len(self.states)

    def __repr__(self) -> str:
        return f"Dataset(num_episodes={self.num_episodes}, num_transitions={len(self)})"

    def first(self, num_episodes: int) -> Dataset:
        """The dataset of the first ``num_episodes`` episodes."""
        n = int(np.searchsorted(self.episode, num_episodes))
        return Dataset(*(np.array(getattr(self, k)[:n]) for k in _ARRAYS),
                       num_episodes=min(num_episodes, self.num_episodes))


_ARRAYS = ("states", "actions", "rewards", "next_states", "terminated", "episode", "step")


OnlineFactory = Callable[[TaskInfo, np.random.Generator], OnlineAgent]
"""``make_online_agent(info, rng) -> OnlineAgent``: called once per run."""

OfflineSolver = Callable[[TaskInfo, "Dataset", np.random.Generator], np.ndarray]
"""``solve_offline(info, dataset, rng) -> policy``, (S, A) or (H, S, A) probabilities."""


@dataclass(frozen=True)
class Submission:
    """A benchmark entry: metadata and a factory per supported protocol.

    Attributes:
        name: lowercase letters, digits, ``_``, ``.``, ``-`` (it names result directories).
        version: bump it whenever a change can move a score; results record it.
        make_online_agent: online factory, or None if the protocol is not supported.
        solve_offline: offline solver, or None if the protocol is not supported.
        authors, description, url: shown on the leaderboard.
        frozen_state: optional ``() -> str``, a hash of what the submission promises not to
            change while it plays (an in-context model's weights). The harness calls it
            before and after every run and records both in the result (``frozen_state``);
            a run that changes it fails, and ``verify`` checks the recorded pair.
        files: files (or directories) besides the submission's own source that decide what
            it does, such as a checkpoint: paths absolute or relative to the source file.
            Every result records a hash of them with the source (``code``), and a stored
            run is reused only while they are unchanged.
    """

    name: str
    version: str
    make_online_agent: OnlineFactory | None = None
    solve_offline: OfflineSolver | None = None
    authors: str = ""
    description: str = ""
    url: str = ""
    frozen_state: Callable[[], str] | None = None
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not SUBMISSION_NAME.match(self.name):
            raise ValueError(f"submission name {self.name!r} must match "
                             f"{SUBMISSION_NAME.pattern}")
        if not isinstance(self.version, str) or not self.version:
            raise ValueError(f"submission {self.name}: version must be a non-empty string")
        if self.make_online_agent is None and self.solve_offline is None:
            raise ValueError(f"submission {self.name}: give make_online_agent, "
                             "solve_offline, or both")

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(p for p, f in (("online", self.make_online_agent),
                                    ("offline", self.solve_offline)) if f is not None)

    def metadata(self) -> dict:
        return {"name": self.name, "version": self.version, "authors": self.authors,
                "description": self.description, "url": self.url,
                "protocols": list(self.protocols)}
