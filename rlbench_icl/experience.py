"""The sufficient statistic of tabular experience: visit counts, reward sums, successor counts.

Its size is fixed by (S, A), whatever the number of episodes: everything a model-based agent
(UCB-VI, PSRL, VI-LCB) or an in-context model needs from the data. Agents update it online,
one transition at a time, or build it from an offline ``Dataset`` in one vectorised call.
"""

from __future__ import annotations

import numpy as np


class ExperienceStatistic:
    """Counts of (s, a, s') transitions and sums of rewards.

    Attributes:
        transition_counts: (S, A, S) number of observed transitions s, a -> s'.
        reward_sums: (S, A) sum of observed rewards. reward_sq_sums: (S, A) sum of squares.
        terminal_seen: (S,) True for states observed as ``terminated`` successors.
        max_abs_reward: largest |reward| observed so far (0 before any).
    """

    def __init__(self, num_states: int, num_actions: int):
        self.num_states, self.num_actions = num_states, num_actions
        self.transition_counts = np.zeros((num_states, num_actions, num_states))
        self.reward_sums = np.zeros((num_states, num_actions))
        self.reward_sq_sums = np.zeros((num_states, num_actions))
        self.terminal_seen = np.zeros(num_states, dtype=bool)
        self.max_abs_reward = 0.0
        self._key_rows: list[int] = []  # distinct (s * A + a, s') seen, in order of first sight
        self._key_cols: list[int] = []

    @classmethod
    def from_dataset(cls, dataset, num_states: int, num_actions: int) -> ExperienceStatistic:
        """The statistic of every transition in an offline ``Dataset``."""
        stat = cls(num_states, num_actions)
        np.add.at(stat.transition_counts, (dataset.states, dataset.actions,
                                           dataset.next_states), 1.0)
        np.add.at(stat.reward_sums, (dataset.states, dataset.actions), dataset.rewards)
        np.add.at(stat.reward_sq_sums, (dataset.states, dataset.actions), dataset.rewards ** 2)
        stat.terminal_seen[dataset.next_states[dataset.terminated]] = True
        stat.rebuild_keys()
        if len(dataset):
            stat.max_abs_reward = float(np.abs(dataset.rewards).max())
        return stat

    def update(self, state: int, action: int, reward: float, next_state: int,
               terminated: bool) -> None:
        """Add one transition."""
        if self.transition_counts[state, action, next_state] == 0:
            self._key_rows.append(state * self.num_actions + action)
            self._key_cols.append(next_state)
        self.transition_counts[state, action, next_state] += 1.0
        self.reward_sums[state, action] += reward
        self.reward_sq_sums[state, action] += reward * reward
        if terminated:
            self.terminal_seen[next_state] = True
        self.max_abs_reward = max(self.max_abs_reward, abs(reward))

    def rebuild_keys(self) -> None:
        """Re-derive the observed transitions from ``transition_counts`` (row-major order),
        after the counts were edited in bulk rather than by ``update``."""
        S, A = self.num_states, self.num_actions
        rows, cols = np.nonzero(self.transition_counts.reshape(S * A, S))
        self._key_rows, self._key_cols = rows.tolist(), cols.tolist()

    def observed_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct observed transitions as flat ``(s * A + a, s')`` index arrays, in
        order of first observation (row-major for ``from_dataset`` and after
        ``rebuild_keys``). Sparse planners use them instead of scanning the dense S x A x S
        counts (Taxi: 1.5 M entries). Statistics edited in bulk must call ``rebuild_keys``."""
        return (np.array(self._key_rows, dtype=np.int64),
                np.array(self._key_cols, dtype=np.int64))

    @property
    def visits(self) -> np.ndarray:
        """(S, A) visit counts n(s, a)."""
        return self.transition_counts.sum(axis=2)

    def empirical_model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(P_hat, R_hat, n)``: empirical transitions (S, A, S) and mean rewards (S, A).

        Unvisited pairs get a self-loop and reward 0 (callers decide how to treat them, e.g.
        optimistically or pessimistically, from ``n == 0``). States seen as terminal are made
        absorbing with reward 0, as the benchmark's tasks define them.
        """
        n = self.visits
        S = self.num_states
        safe = np.maximum(n, 1.0)
        P_hat = self.transition_counts / safe[..., None]
        unvisited = n == 0
        P_hat[unvisited] = np.eye(S)[np.nonzero(unvisited)[0]]
        R_hat = self.reward_sums / safe
        terminal = np.flatnonzero(self.terminal_seen)
        P_hat[terminal] = 0.0
        P_hat[terminal, :, terminal] = 1.0
        R_hat[terminal] = 0.0
        return P_hat, R_hat, n
