"""PSRL: posterior sampling for RL (Osband, Russo & Van Roy 2013, "(More) efficient
reinforcement learning via posterior sampling").

Before every episode the agent samples one MDP from its posterior and follows that MDP's
optimal finite-horizon policy (backward induction on the sample) for the whole episode.

- Transitions: each row ``P[s, a, .] ~ Dirichlet(alpha0 * 1_S)`` a priori, with
  ``alpha0 = PRIOR_MASS / S`` (one pseudo-observation per row in total: a fixed alpha0 = 1
  would weigh 500 pseudo-observations against the data on Taxi); posterior
  ``Dirichlet(alpha0 + counts)``. The posterior mass on not-yet-seen successors is sampled
  exactly (a Gamma draw per row, by the Dirichlet aggregation property) but spread uniformly
  over them (its posterior-mean split), so a sampled model stays sparse: planning costs the
  number of distinct observed transitions, not S * S * A.
- Rewards: the mean reward ``R[s, a]``, rescaled to [0, 1] by ``info.reward_range``, has a
  ``Beta(1 + successes, 1 + failures)`` posterior, an observed reward being Bernoulli-ised
  with one uniform draw (success with probability equal to its rescaled value; Agrawal &
  Goyal 2012). This is the exact conjugate posterior for ``bernoulli`` tasks and a calibrated
  one for any bounded reward: its noise scale is the reward range, whatever the units, and a
  pair that never pays concentrates at 0 at rate 1/n. (A Normal posterior with a fixed unit
  noise scale shrinks only as 1/sqrt(n) whatever the data: on FrozenLake with H = 100 the
  sampled noise of 100 steps drowns the one goal reward.) ``gaussian`` rewards, bounded only
  in mean, are clipped to the range first.

``policy()`` is backward induction on the posterior-mean model (no sampling). Terminal states
seen so far are absorbing with value 0. The one hyper-parameter, ``PRIOR_MASS``, was
chosen by the sweep on synthetic-prior MDPs (experiments/tune_baselines.py, .md).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse

from rlbench_icl import ExperienceStatistic, Submission, TaskInfo, greedy_policy
from rlbench_icl.dynprog import SPARSE_MIN_STATES, greedy_actions

# Chosen by the tuning sweep on synthetic-prior MDPs (experiments/tune_baselines.py, its
# table in experiments/tune_baselines.md): the best mean online/offline score; never tuned on
# the benchmark's registered tasks.
PRIOR_MASS = 10.0


class PSRL:
    """Posterior sampling with a Dirichlet-Beta posterior, one sampled MDP per episode.

    Args:
        info: the task's public spec.
        rng: draws the sampled MDPs and the Bernoulli-isation of rewards.
        prior_mass: total Dirichlet pseudo-count of a transition row (alpha0 = mass / S).
    """

    def __init__(self, info: TaskInfo, rng: np.random.Generator, *,
                 prior_mass: float = PRIOR_MASS):
        S, A = info.num_states, info.num_actions
        self.info, self.rng = info, rng
        self.alpha0 = prior_mass / S
        self.r_min = info.reward_range[0]
        self.span = (info.reward_range[1] - info.reward_range[0]) or 1.0
        self.stat = ExperienceStatistic(S, A)
        self.successes = np.zeros((S, A))
        self.actions = self._sample_actions()

    def act(self, state: int, step: int) -> int:
        return int(self.actions[step, state])

    def observe(self, state, action, reward, next_state, terminated) -> None:
        self.stat.update(state, action, reward, next_state, terminated)
        u = min(max((reward - self.r_min) / self.span, 0.0), 1.0)
        self.successes[state, action] += self.rng.random() < u

    def end_episode(self) -> None:
        self.actions = self._sample_actions()

    def policy(self) -> np.ndarray:
        """Greedy (H, S, A) policy of the posterior-mean model; h = 0 slice if discounted."""
        pi = greedy_policy(self.plan(self.mean_model()))
        return pi[0] if self.info.objective == "discounted" else pi

    def sample_model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One MDP from the posterior, as ``(probs, unseen_mass, theta)``: the probabilities
        of the observed (s, a, s') keys (in observation order), the (S*A,) mass on unseen
        successors, and the (S*A,) mean rewards rescaled to [0, 1]."""
        rows, counts, seen, n = self._counts()
        S = self.info.num_states
        g_seen = self.rng.gamma(self.alpha0 + counts)
        g_unseen = self.rng.gamma(self.alpha0 * (S - seen))  # shape 0 (all seen) gives 0
        total = np.bincount(rows, g_seen, minlength=len(n)) + g_unseen
        # an untried row whose Gamma draw underflowed (tiny prior mass) keeps the prior mean
        unseen_mass = np.divide(g_unseen, total, out=np.ones(len(n)), where=total > 0)
        successes = self.successes.ravel()
        theta = self.rng.beta(1.0 + successes, 1.0 + n - successes)
        return g_seen / total[rows], unseen_mass, theta

    def mean_model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The posterior mean, in the form of ``sample_model``."""
        rows, counts, seen, n = self._counts()
        norm = self.alpha0 * self.info.num_states + n
        unseen_mass = self.alpha0 * (self.info.num_states - seen) / norm
        return (self.alpha0 + counts) / norm[rows], unseen_mass, (
            1.0 + self.successes.ravel()) / (2.0 + n)

    def plan(self, model) -> np.ndarray:
        """Backward induction, Q (H, S, A), on a model from ``sample_model``/``mean_model``.

        Row (s, a) puts ``probs`` on its seen successors and ``unseen_mass`` uniformly on the
        others, and pays ``r_min + span * theta``: ``P @ V = W @ V + c * sum(V)`` row-wise,
        with ``c = unseen_mass / #unseen`` and ``W = probs - c`` on the seen keys (sparse).
        """
        probs, unseen_mass, theta = model
        S, A, H = self.info.num_states, self.info.num_actions, self.info.horizon
        rows, cols = self.stat.observed_keys()
        unseen = S - np.bincount(rows, minlength=S * A)
        c = np.divide(unseen_mass, unseen, out=np.zeros(S * A), where=unseen > 0)
        W = scipy.sparse.csr_array((probs - c[rows], (rows, cols)), shape=(S * A, S))
        W = W.toarray() if S < SPARSE_MIN_STATES else W
        R = (self.r_min + self.span * theta).reshape(S, A)
        terminal = self.stat.terminal_seen
        Q, V = np.empty((H, S, A)), np.zeros(S)
        for h in range(H - 1, -1, -1):
            Q[h] = R + self.info.discount * (W @ V + c * V.sum()).reshape(S, A)
            Q[h, terminal] = 0.0
            V = functools.reduce(np.maximum, Q[h].T)  # faster than Q[h].max(axis=1), small A
        return Q

    def _sample_actions(self) -> np.ndarray:
        return greedy_actions(self.plan(self.sample_model()))

    def _counts(self):
        """``(rows, counts, seen, n)``: counts of the distinct keys, and per flat pair the
        number of distinct successors seen and of visits, (S*A,)."""
        S, A = self.info.num_states, self.info.num_actions
        rows, _, counts = self.stat.observed_counts()
        return (rows, counts, np.bincount(rows, minlength=S * A),
                np.bincount(rows, counts, minlength=S * A))


SUBMISSIONS = [
    Submission(name="psrl", version="1", make_online_agent=PSRL,
               authors="rlbench-icl developers",
               description="PSRL: Dirichlet transitions, Beta (Bernoulli-ised) rewards, one "
                           "sampled MDP per episode.",
               url="https://arxiv.org/abs/1306.0940"),
]
