"""The sufficient statistic of tabular experience: visit counts, reward sums, successor counts.

Its size is fixed by (S, A) and the number of distinct observed (s, a, s') transitions,
whatever the number of episodes: everything a model-based agent (UCB-VI, PSRL, VI-LCB) or an
in-context model needs from the data. Agents update it online, one transition at a time, or
build it from an offline ``Dataset`` in one vectorised call.

Successor counts are dense (S, A, S) on small tasks, sparse on large ones
(``DENSE_MAX_BYTES``): a task with S = 10^5 states and 4 actions would need 320 GB dense,
while the transitions an agent observes fit in megabytes.
"""

from __future__ import annotations

import numpy as np

# A statistic keeps dense (S, A, S) float64 counts while they take at most 64 MiB, the rule
# of rlbench_icl.mdp's dense transitions (Taxi, the largest task run by default, takes 12 MB):
# code that edits ``transition_counts`` in bulk (the foundation model's training contexts)
# works as it always did. Larger statistics count only the observed keys.
DENSE_MAX_BYTES = 1 << 26
# The largest dense view a sparse statistic materialises when ``transition_counts`` is asked
# for (1 GiB). Every agent and the foundation model's inference read the observed keys.
DENSE_VIEW_MAX_BYTES = 1 << 30


class ExperienceStatistic:
    """Counts of (s, a, s') transitions and sums of rewards.

    Storage: dense (S, A, S) counts when they take at most ``DENSE_MAX_BYTES`` (``dense`` is
    True), else sparse: one count per distinct observed key, memory O(S * A + #keys).
    ``dense`` can be forced either way (tests, benchmarks); both give the same counts, keys
    and models. Readers that need only the observed transitions use ``observed_counts``
    (``sorted_counts`` in CSR order), ``visits`` and ``sparse_empirical_model``: on a sparse
    statistic they never scan S * A * S. ``from_counts`` builds a statistic from counts.

    Attributes:
        transition_counts: (S, A, S) number of observed transitions s, a -> s'. Dense
            statistics hold it (it may be edited in bulk, then call ``rebuild_keys``); a
            sparse one turns dense when it is read, if that takes at most
            ``DENSE_VIEW_MAX_BYTES``, and raises ``ValueError`` (naming the bytes) above.
        reward_sums: (S, A) sum of observed rewards. reward_sq_sums: (S, A) sum of squares.
        terminal_seen: (S,) True for states observed as ``terminated`` successors.
        max_abs_reward: largest |reward| observed so far (0 before any).
        dense: whether the counts are stored as the dense (S, A, S) array.
    """

    def __init__(self, num_states: int, num_actions: int, *, dense: bool | None = None):
        self.num_states, self.num_actions = num_states, num_actions
        if dense is None:
            dense = _dense_bytes(num_states, num_actions) <= DENSE_MAX_BYTES
        self._dense = np.zeros((num_states, num_actions, num_states)) if dense else None
        self.reward_sums = np.zeros((num_states, num_actions))
        self.reward_sq_sums = np.zeros((num_states, num_actions))
        self.terminal_seen = np.zeros(num_states, dtype=bool)
        self.max_abs_reward = 0.0
        # distinct (s * A + a, s') seen, in order of first sight; lists while updated online,
        # arrays after a bulk build (from_dataset, rebuild_keys of a sparse statistic)
        self._key_rows: list[int] | np.ndarray = []
        self._key_cols: list[int] | np.ndarray = []
        # sparse storage only: the count of each key, and flat key (s * A + a) * S + s' ->
        # its position (None until the first update after a bulk build)
        self._key_counts: list[float] | np.ndarray = []
        self._slots: dict[int, int] | None = {}

    @property
    def dense(self) -> bool:
        return self._dense is not None

    @classmethod
    def from_dataset(cls, dataset, num_states: int, num_actions: int, *,
                     dense: bool | None = None) -> ExperienceStatistic:
        """The statistic of every transition in an offline ``Dataset``; keys in row-major
        order. Vectorised: O(N log N) in the N transitions, plus the dense array if any."""
        stat = cls(num_states, num_actions, dense=dense)
        if stat.dense:
            np.add.at(stat._dense, (dataset.states, dataset.actions, dataset.next_states), 1.0)
            stat.rebuild_keys()
        else:
            rows = np.asarray(dataset.states, np.int64) * num_actions + dataset.actions
            keys = rows * num_states + dataset.next_states
            unique, counts = np.unique(keys, return_counts=True)
            stat._set_sparse_keys(unique, counts.astype(np.float64))
        np.add.at(stat.reward_sums, (dataset.states, dataset.actions), dataset.rewards)
        np.add.at(stat.reward_sq_sums, (dataset.states, dataset.actions), dataset.rewards ** 2)
        stat.terminal_seen[dataset.next_states[dataset.terminated]] = True
        if len(dataset):
            stat.max_abs_reward = float(np.abs(dataset.rewards).max())
        return stat

    @classmethod
    def from_counts(cls, num_states: int, num_actions: int, rows: np.ndarray,
                    cols: np.ndarray, counts: np.ndarray, *, dense: bool | None = None
                    ) -> ExperienceStatistic:
        """A statistic with these successor counts and no rewards yet: ``counts[i]``
        transitions ``rows[i] = s * A + a`` -> ``cols[i] = s'``, keys distinct, zero counts
        dropped; keys in row-major order. O(#keys log #keys), plus the dense array if any."""
        stat = cls(num_states, num_actions, dense=dense)
        if stat.dense:
            stat._dense.reshape(num_states * num_actions, num_states)[rows, cols] = counts
            stat.rebuild_keys()
            return stat
        keys = np.asarray(rows, np.int64) * num_states + cols
        counts = np.asarray(counts, np.float64)
        order = np.argsort(keys, kind="stable")
        seen = counts[order] != 0
        stat._set_sparse_keys(keys[order][seen], counts[order][seen])
        return stat

    def update(self, state: int, action: int, reward: float, next_state: int,
               terminated: bool) -> None:
        """Add one transition."""
        if self._dense is not None:
            if self._dense[state, action, next_state] == 0:
                self._key_rows.append(state * self.num_actions + action)
                self._key_cols.append(next_state)
            self._dense[state, action, next_state] += 1.0
        else:
            self._count_sparse(state * self.num_actions + action, next_state)
        self.reward_sums[state, action] += reward
        self.reward_sq_sums[state, action] += reward * reward
        if terminated:
            self.terminal_seen[next_state] = True
        self.max_abs_reward = max(self.max_abs_reward, abs(reward))

    def rebuild_keys(self) -> None:
        """Re-derive the observed transitions from the counts (row-major order), after the
        counts were edited in bulk rather than by ``update``. Keys counted 0 are dropped."""
        S, A = self.num_states, self.num_actions
        if self._dense is not None:
            rows, cols = np.nonzero(self._dense.reshape(S * A, S))
            self._key_rows, self._key_cols = rows.tolist(), cols.tolist()
            return
        rows, cols, counts = self.observed_counts()
        keys = rows * S + cols
        order = np.argsort(keys, kind="stable")
        seen = counts[order] != 0
        self._set_sparse_keys(keys[order][seen], counts[order][seen])

    def observed_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct observed transitions as flat ``(s * A + a, s')`` index arrays, in
        order of first observation (row-major for ``from_dataset`` and after
        ``rebuild_keys``). Sparse planners use them instead of scanning the dense S x A x S
        counts (Taxi: 1.5 M entries). Statistics edited in bulk must call ``rebuild_keys``."""
        return (np.array(self._key_rows, dtype=np.int64),
                np.array(self._key_cols, dtype=np.int64))

    def observed_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, cols, counts)``: ``observed_keys()`` and the (float) count of each."""
        rows, cols = self.observed_keys()
        if self._dense is not None:
            S, A = self.num_states, self.num_actions
            return rows, cols, self._dense.reshape(S * A, S)[rows, cols]
        return rows, cols, np.array(self._key_counts, dtype=np.float64)

    def sorted_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``observed_counts()`` in row-major order (by ``s * A + a``, then ``s'``), the
        order of a CSR matrix's entries. A dense statistic reads them off its array, in
        O(S * A * S), so that counts edited in bulk without ``rebuild_keys`` are read too
        (the training contexts, ``rlbench_icl.fm.context``, edit them so); a sparse one sorts
        its keys, in O(#keys log #keys)."""
        if self._dense is not None:
            S, A = self.num_states, self.num_actions
            rows, cols = np.nonzero(self._dense.reshape(S * A, S))
            return rows, cols, self._dense.reshape(S * A, S)[rows, cols]
        rows, cols, counts = self.observed_counts()
        order = np.argsort(rows * self.num_states + cols, kind="stable")
        return rows[order], cols[order], counts[order]

    @property
    def visits(self) -> np.ndarray:
        """(S, A) visit counts n(s, a)."""
        if self._dense is not None:
            return self._dense.sum(axis=2)
        rows, _, counts = self.observed_counts()
        S, A = self.num_states, self.num_actions
        return np.bincount(rows, counts, minlength=S * A).reshape(S, A)

    @property
    def transition_counts(self) -> np.ndarray:
        if self._dense is None:
            self._densify()
        return self._dense

    @transition_counts.setter
    def transition_counts(self, counts: np.ndarray) -> None:
        if self._dense is None:
            self._densify()
        self._dense = counts

    def empirical_model(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(P_hat, R_hat, n)``: empirical transitions (S, A, S) and mean rewards (S, A).

        Unvisited pairs get a self-loop and reward 0 (callers decide how to treat them, e.g.
        optimistically or pessimistically, from ``n == 0``). States seen as terminal are made
        absorbing with reward 0, as the benchmark's tasks define them. Dense (S, A, S): on
        large tasks use ``sparse_empirical_model``.
        """
        S = self.num_states
        if self._dense is None:
            self._check_dense_size()
            P_hat, R_hat, n = self.sparse_empirical_model()
            return P_hat.toarray().reshape(S, self.num_actions, S), R_hat, n
        n = self._dense.sum(axis=2)
        safe = np.maximum(n, 1.0)
        P_hat = self._dense / safe[..., None]
        unvisited = n == 0
        P_hat[unvisited] = np.eye(S)[np.nonzero(unvisited)[0]]
        R_hat = self.reward_sums / safe
        terminal = np.flatnonzero(self.terminal_seen)
        P_hat[terminal] = 0.0
        P_hat[terminal, :, terminal] = 1.0
        R_hat[terminal] = 0.0
        return P_hat, R_hat, n

    def sparse_empirical_model(self):
        """``empirical_model()`` with P_hat as a ``scipy.sparse.csr_array`` (S*A, S), built
        from the observed keys in O(#keys + S * A): the same entries, in canonical (sorted)
        order, as ``csr_array(P_hat.reshape(S * A, S))``. Returns ``(P_hat, R_hat, n)``."""
        import scipy.sparse  # here, not at the top: scipy costs a CLI start 0.3 s

        S, A = self.num_states, self.num_actions
        rows, cols, counts = self.observed_counts()
        n = np.bincount(rows, counts, minlength=S * A)
        terminal_rows = np.repeat(self.terminal_seen, A)
        kept = ~terminal_rows[rows]
        loops = np.flatnonzero((n == 0) | terminal_rows)  # self-loops: unvisited or terminal
        entry_rows = np.concatenate([rows[kept], loops])
        entry_cols = np.concatenate([cols[kept], loops // A])
        data = np.concatenate([counts[kept] / n[rows[kept]], np.ones(len(loops))])
        order = np.argsort(entry_rows * S + entry_cols, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(entry_rows, minlength=S * A))])
        P_hat = scipy.sparse.csr_array((data[order], entry_cols[order], indptr),
                                       shape=(S * A, S))
        n = n.reshape(S, A)
        R_hat = self.reward_sums / np.maximum(n, 1.0)
        R_hat[self.terminal_seen] = 0.0
        return P_hat, R_hat, n

    def _count_sparse(self, row: int, col: int) -> None:
        slots = self._slots if self._slots is not None else self._index_keys()
        key = row * self.num_states + col
        slot = slots.get(key)
        if slot is None:
            slots[key] = len(self._key_counts)
            self._key_rows.append(row)
            self._key_cols.append(col)
            self._key_counts.append(1.0)
        else:
            self._key_counts[slot] += 1.0

    def _index_keys(self) -> dict[int, int]:
        """Lists and the key -> position index of a bulk-built sparse statistic, made on its
        first ``update`` only: an offline statistic never pays for them."""
        S = self.num_states
        rows, cols, counts = self.observed_counts()
        self._key_rows, self._key_cols = rows.tolist(), cols.tolist()
        self._key_counts = counts.tolist()
        self._slots = {key: i for i, key in enumerate((rows * S + cols).tolist())}
        return self._slots

    def _set_sparse_keys(self, keys: np.ndarray, counts: np.ndarray) -> None:
        self._key_rows, self._key_cols = np.divmod(keys, self.num_states)
        self._key_counts, self._slots = counts, None

    def _densify(self) -> None:
        """Move a sparse statistic's counts into the dense (S, A, S) array, keys kept."""
        self._check_dense_size()
        S, A = self.num_states, self.num_actions
        rows, cols, counts = self.observed_counts()
        dense = np.zeros((S, A, S))
        dense.reshape(S * A, S)[rows, cols] = counts
        self._key_rows, self._key_cols = rows.tolist(), cols.tolist()
        self._key_counts, self._slots, self._dense = [], {}, dense

    def _check_dense_size(self) -> None:
        S, A = self.num_states, self.num_actions
        if _dense_bytes(S, A) > DENSE_VIEW_MAX_BYTES:
            raise ValueError(
                f"ExperienceStatistic with S = {S} states and A = {A} actions stores its "
                f"counts sparsely: a dense (S, A, S) array would need {_dense_bytes(S, A):,} "
                f"bytes (limit {DENSE_VIEW_MAX_BYTES:,}). Use observed_counts(), visits or "
                f"sparse_empirical_model() instead.")


def _dense_bytes(num_states: int, num_actions: int) -> int:
    return num_states * num_actions * num_states * 8
