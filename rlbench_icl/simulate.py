"""Fast sampling of a ``TabularMDP``: the harness's step function.

Per (s, a) the successors with positive probability and their cumulative probabilities are
kept as Python lists, and uniforms are drawn from the generator in blocks: one step is then a
``bisect`` and a few list look-ups, with no per-step numpy call (numpy's per-call overhead
dominates on arrays this small; ``benchmarks/bench_env_step.py`` measures the difference).
Large MDPs (more than ``LIST_TABLES_MAX_ROWS`` (s, a) pairs, stored sparse) keep the same
numbers in flat arrays instead, in memory linear in their transitions; a step then costs a
few numpy scalar look-ups more, and samples exactly the same episodes.
``rng.random(n)`` yields the same numbers as n single draws, but when two block streams share
one generator (the offline behaviour policy and the simulator) or uniforms and normals
interleave, which numbers each consumer gets depends on ``BLOCK``: changing ``BLOCK``
changes every sampled episode, and must bump the result schema.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

import numpy as np

from .dynprog import issparse
from .mdp import TabularMDP, rewards_on_transitions

BLOCK = 4096
LIST_TABLES_MAX_ROWS = 1 << 17  # (s, a) pairs kept as Python lists: ~100 MB at most


class Simulator:
    """Samples initial states, successors and rewards of an MDP from one generator.

    Args:
        mdp: the task's MDP.
        rng: the only source of randomness.
    """

    def __init__(self, mdp: TabularMDP, rng: np.random.Generator):
        self.mdp = mdp
        self._rng = rng
        self._uniform = UniformStream(rng)
        self._normals: list[float] = []
        self._terminal = mdp.terminal.tolist()
        support = np.flatnonzero(mdp.mu0 > 0)
        self._mu0_support = support.tolist()
        self._mu0_cdf = np.cumsum(mdp.mu0[support])[:-1].tolist()
        self._noise = mdp.reward_noise
        self._std = mdp.reward_std
        if uses_list_tables(mdp):
            self._successors, self._cdfs, self._rewards = _tables(mdp)
            self._mean_reward = mdp.R.tolist()
        else:
            self._arrays = _array_tables(mdp)
            self._mean_reward_flat = mdp.R.ravel()
            self.step = self._step_arrays

    def reset(self) -> int:
        """Draw s_0 from mu0."""
        u = self._uniform.next()
        return self._mu0_support[bisect_right(self._mu0_cdf, u) if self._mu0_cdf else 0]

    def step(self, state: int, action: int) -> tuple[float, int, bool]:
        """Draw ``(reward, next_state, terminated)`` for taking ``action`` in ``state``."""
        cdf = self._cdfs[state][action]
        k = bisect_right(cdf, self._uniform.next()) if cdf else 0
        next_state = self._successors[state][action][k]
        if self._noise == "deterministic":
            reward = self._rewards[state][action][k]
        elif self._noise == "bernoulli":
            reward = 1.0 if self._uniform.next() < self._mean_reward[state][action] else 0.0
        else:
            reward = self._mean_reward[state][action] + self._std * self._normal()
        return reward, next_state, self._terminal[next_state]

    def _step_arrays(self, state: int, action: int) -> tuple[float, int, bool]:
        """``step`` on the flat tables of a large MDP: the same draws, the same results."""
        indptr, successors, cdf, rewards = self._arrays
        row = state * self.mdp.num_actions + action
        lo, hi = int(indptr[row]), int(indptr[row + 1])
        entry = bisect_right(cdf, self._uniform.next(), lo, hi - 1) if hi - lo > 1 else lo
        next_state = int(successors[entry])
        if self._noise == "deterministic":
            reward = float(rewards[entry])
        else:
            mean = float(self._mean_reward_flat[row])
            if self._noise == "bernoulli":
                reward = 1.0 if self._uniform.next() < mean else 0.0
            else:
                reward = mean + self._std * self._normal()
        return reward, next_state, self._terminal[next_state]

    def _normal(self) -> float:
        if not self._normals:
            self._normals = self._rng.standard_normal(BLOCK).tolist()[::-1]
        return self._normals.pop()


def uses_list_tables(mdp: TabularMDP) -> bool:
    """Whether per-(s, a) look-ups of ``mdp`` go through Python lists (fast, ~100 bytes per
    entry) rather than flat arrays (memory linear in transitions): its size decides."""
    return mdp.num_states * mdp.num_actions <= LIST_TABLES_MAX_ROWS


class UniformStream:
    """Uniforms in [0, 1) from ``rng``, drawn in blocks (same numbers as one-by-one draws)."""

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._block: list[float] = []

    def next(self) -> float:
        if not self._block:
            self._block = self._rng.random(BLOCK).tolist()[::-1]
        return self._block.pop()


@lru_cache(maxsize=64)  # built once per MDP; TabularMDP hashes by identity
def _tables(mdp: TabularMDP) -> tuple[list, list, list]:
    """Per (s, a): successors with P > 0, their cumulative probabilities (all but the last, so
    ``bisect`` lands in range even when rounding leaves the total a hair below 1), and the
    deterministic reward of each successor."""
    if issparse(mdp.P):
        return _tables_from_arrays(mdp)
    successors, cdfs, rewards = [], [], []
    for s in range(mdp.num_states):
        succ_s, cdf_s, rew_s = [], [], []
        for a in range(mdp.num_actions):
            nz = np.flatnonzero(mdp.P[s, a] > 0)
            succ_s.append(nz.tolist())
            cdf_s.append(np.cumsum(mdp.P[s, a, nz])[:-1].tolist())
            rew = mdp.R_next[s, a, nz] if mdp.R_next is not None else np.full(len(nz),
                                                                              mdp.R[s, a])
            rew_s.append(rew.tolist())
        successors.append(succ_s)
        cdfs.append(cdf_s)
        rewards.append(rew_s)
    return successors, cdfs, rewards


def _tables_from_arrays(mdp: TabularMDP) -> tuple[list, list, list]:
    """``_tables`` of a sparse-stored MDP, cut from its flat tables."""
    indptr, successors, cdf, rewards = (a.tolist() for a in _array_tables(mdp))
    A = mdp.num_actions
    cut = [[(indptr[s * A + a], indptr[s * A + a + 1]) for a in range(A)]
           for s in range(mdp.num_states)]
    return ([[successors[lo:hi] for lo, hi in row] for row in cut],
            [[cdf[lo:hi - 1] for lo, hi in row] for row in cut],
            [[rewards[lo:hi] for lo, hi in row] for row in cut])


@lru_cache(maxsize=8)
def _array_tables(mdp: TabularMDP) -> tuple[np.ndarray, ...]:
    """``(indptr, successors, cdf, rewards)`` over the stored transitions of every (s, a)
    row, CSR-aligned: ``cdf`` is each row's running sum of probabilities (the list tables'
    numbers: rows of equal length are summed left to right together), ``rewards`` each
    transition's deterministic reward."""
    P = mdp.P if issparse(mdp.P) else _csr(mdp.P.reshape(-1, mdp.num_states))
    lengths = np.diff(P.indptr)
    cdf = np.empty(P.nnz)
    for length in np.unique(lengths):
        starts = P.indptr[:-1][lengths == length]
        entries = starts[:, None] + np.arange(length)
        cdf[entries] = np.cumsum(P.data[entries], axis=1)
    if mdp.R_next is None:
        rewards = np.repeat(mdp.R.ravel(), lengths)
    else:
        R_next = mdp.R_next if issparse(mdp.R_next) else _csr(
            mdp.R_next.reshape(-1, mdp.num_states))
        rewards = rewards_on_transitions(P, R_next)
    return P.indptr, P.indices, cdf, rewards


def _csr(flat: np.ndarray):
    import scipy.sparse

    return scipy.sparse.csr_array(flat)
