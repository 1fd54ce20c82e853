"""Tabular Q-learning (Watkins 1989) with optimism, in three variants.

- ``qlearning``: finite-horizon ``Q[h, s, a]`` initialised optimistically at ``v_max(h)``,
  epsilon-greedy, constant step size alpha:
  ``Q[h, s, a] += alpha * (r + gamma * max_a' Q[h + 1, s', a'] - Q[h, s, a])``.
- ``qlearning-ucb``: UCB-Hoeffding of Jin, Allen-Zhu, Bubeck & Jordan (2018), "Is Q-learning
  provably efficient?". With t = N[h, s, a] after the visit, ``alpha_t = (H + 1) / (H + t)``,
  ``Q[h, s, a] = (1 - alpha_t) Q[h, s, a] + alpha_t (r + gamma V[h + 1, s'] + b_t)``,
  ``b_t = c * span * sqrt(H**3 * iota / t)``, ``iota = ln(S A T / delta)``, T = H K, and
  ``V[h, s] = min(v_max(h), max_a Q[h, s, a])``; greedy acting.
- ``qlearning-paper``: the setting of Zighem & Vie (2026): stationary ``Q[s, a]`` initialised
  at ``V_max = max|r| / (1 - gamma)``, epsilon = 0.1, alpha = 0.1, discounted.

``v_max(h) = max(r_max, 0) * sum_{t < H - h} gamma**t`` bounds the value of the remaining steps
(terminal states pay 0); ``span = r_max - r_min`` of ``info.reward_range`` makes the UCB-H bonus,
written by Jin et al. for rewards in [0, 1], scale with the rewards. A terminal transition is
not bootstrapped; the H-th step of an episode bootstraps on ``V[H] = 0`` (finite horizon) or on
``Q[s']`` (stationary, where H only truncates). ``policy()`` is the one-hot greedy policy of the
current Q (ties to the lowest action index); only epsilon-greedy draws from the rng.
Hyper-parameters are module constants chosen by the sweep on synthetic-prior MDPs
(experiments/tune_baselines.py; table in experiments/tune_baselines.md).
"""

from __future__ import annotations

import numpy as np

from rlbench_icl import Submission, TaskInfo, greedy_policy

# Chosen by the tuning sweep on synthetic-prior MDPs (experiments/tune_baselines.py, its
# table in experiments/tune_baselines.md): the best mean online/offline score; never tuned on
# the benchmark's registered tasks.
EPSILON = 0.01
STEP_SIZE = 1.0
UCB_SCALE = 0.0003
DELTA = 0.1
# The paper's settings (PAPER_NOTES.md), reproduced rather than tuned.
PAPER_EPSILON = 0.1
PAPER_STEP_SIZE = 0.1
PAPER_DISCOUNT = 0.95  # planning discount when the task itself is undiscounted


def optimistic_values(info: TaskInfo) -> np.ndarray:
    """(H + 1,) ``v_max(h) = max(r_max, 0) * sum_{t < H - h} gamma**t``; 0 at h = H."""
    remaining = np.cumsum(info.discount ** np.arange(info.horizon))[::-1]
    return np.append(max(info.reward_range[1], 0.0) * remaining, 0.0)


class _FiniteHorizonQ:
    """Shared by the finite-horizon variants: Q[h, s, a] at v_max(h), the current step, policy."""

    def __init__(self, info: TaskInfo, rng: np.random.Generator):
        self.info, self.rng = info, rng
        self.v_max = optimistic_values(info)
        S, A, H = info.num_states, info.num_actions, info.horizon
        self.q = np.repeat(self.v_max[:-1], S * A).reshape(H, S, A)
        self.step = 0

    def end_episode(self) -> None:
        pass

    def policy(self) -> np.ndarray:
        """One-hot greedy (H, S, A) policy of Q; its h = 0 slice for ``discounted`` tasks."""
        pi = greedy_policy(self.q)
        return pi[0] if self.info.objective == "discounted" else pi


class QLearning(_FiniteHorizonQ):
    """Optimistic epsilon-greedy finite-horizon Q-learning.

    Args:
        info: the task's public spec. rng: draws the epsilon-greedy coin and random actions.
        epsilon: probability of a uniform-random action. step_size: alpha in (0, 1].
    """

    def __init__(self, info: TaskInfo, rng: np.random.Generator, *,
                 epsilon: float = EPSILON, step_size: float = STEP_SIZE):
        super().__init__(info, rng)
        self.epsilon, self.step_size = epsilon, step_size

    def act(self, state: int, step: int) -> int:
        self.step = step
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.info.num_actions))
        return int(np.argmax(self.q[step, state]))

    def observe(self, state, action, reward, next_state, terminated) -> None:
        h = self.step
        last = terminated or h + 1 == self.info.horizon
        target = reward + (0.0 if last else self.info.discount * self.q[h + 1, next_state].max())
        self.q[h, state, action] += self.step_size * (target - self.q[h, state, action])


class UCBQLearning(_FiniteHorizonQ):
    """Q-learning with UCB-Hoeffding exploration (Jin et al. 2018, Algorithm 1).

    Args:
        info: the task's public spec. rng: unused (greedy acting is deterministic).
        scale: the bonus constant c. delta: confidence level in ``iota = ln(S A T / delta)``.
    """

    def __init__(self, info: TaskInfo, rng: np.random.Generator, *,
                 scale: float = UCB_SCALE, delta: float = DELTA):
        super().__init__(info, rng)
        S, A, H = info.num_states, info.num_actions, info.horizon
        iota = np.log(S * A * H * max(info.num_episodes, 1) / delta)
        span = info.reward_range[1] - info.reward_range[0]
        self.bonus_scale = float(scale * span * np.sqrt(H ** 3 * iota))
        self.v = np.repeat(self.v_max, S).reshape(H + 1, S)  # V[h, s], V[H] = 0
        self.visits = np.zeros((H, S, A), dtype=np.int64)

    def act(self, state: int, step: int) -> int:
        self.step = step
        return int(np.argmax(self.q[step, state]))

    def observe(self, state, action, reward, next_state, terminated) -> None:
        h, H = self.step, self.info.horizon
        self.visits[h, state, action] += 1
        t = self.visits[h, state, action]
        alpha = (H + 1) / (H + t)
        v_next = 0.0 if terminated else self.info.discount * self.v[h + 1, next_state]
        target = reward + v_next + self.bonus_scale / np.sqrt(t)
        self.q[h, state, action] = (1 - alpha) * self.q[h, state, action] + alpha * target
        self.v[h, state] = min(self.v_max[h], self.q[h, state].max())


class PaperQLearning:
    """The paper's Q-learning: stationary, discounted, epsilon-greedy, optimistic start.

    Args:
        info: the task's public spec. rng: draws the epsilon-greedy coin and random actions.
        epsilon, step_size: the paper's 0.1 and 0.1 by default.
    """

    def __init__(self, info: TaskInfo, rng: np.random.Generator, *,
                 epsilon: float = PAPER_EPSILON, step_size: float = PAPER_STEP_SIZE):
        self.info, self.rng = info, rng
        self.epsilon, self.step_size = epsilon, step_size
        self.discount = info.discount if info.discount < 1.0 else PAPER_DISCOUNT
        v_max = info.reward_bound / (1.0 - self.discount)
        self.q = np.full((info.num_states, info.num_actions), v_max)

    def act(self, state: int, step: int) -> int:
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.info.num_actions))
        return int(np.argmax(self.q[state]))

    def observe(self, state, action, reward, next_state, terminated) -> None:
        target = reward + (0.0 if terminated else self.discount * self.q[next_state].max())
        self.q[state, action] += self.step_size * (target - self.q[state, action])

    def end_episode(self) -> None:
        pass

    def policy(self) -> np.ndarray:
        """One-hot greedy stationary (S, A) policy of Q."""
        return greedy_policy(self.q)


def _submission(name: str, factory, description: str, url: str) -> Submission:
    return Submission(name=name, version="1", make_online_agent=factory,
                      authors="rlbench-icl developers", description=description, url=url)


SUBMISSIONS = [
    _submission("qlearning", QLearning,
                "Finite-horizon Q-learning, optimistic initialisation, epsilon-greedy.", ""),
    _submission("qlearning-ucb", UCBQLearning,
                "Q-learning with UCB-Hoeffding bonuses (Jin et al. 2018).",
                "https://arxiv.org/abs/1807.03765"),
    _submission("qlearning-paper", PaperQLearning,
                "Q-learning as configured by Zighem & Vie (2026): stationary, eps 0.1, "
                "alpha 0.1, optimistic start V_max.", ""),
]
