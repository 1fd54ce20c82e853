"""The tabular MDP type: validated, immutable arrays and a stable digest.

Index order, written once for the whole package:
``P[s, a, s']``, ``R[s, a]``, ``R_next[s, a, s']``, ``mu0[s]``, ``Q[h, s, a]``, ``V[h, s]``,
``policy[s, a]`` (stationary) or ``policy[h, s, a]`` (non-stationary).

Transitions are stored dense, (S, A, S), while that array is at most ``DENSE_MAX_BYTES``
(64 MiB: every task a laptop runs by default), else sparse: a ``scipy.sparse`` CSR matrix
over (s, a) rows, ``P[s * A + a, s']``, whose memory is the number of transitions. The
choice is automatic (``storage="auto"``); either form can be forced, and both give the same
digest, exact values and sampled episodes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .dynprog import issparse

STORAGES = ("auto", "dense", "sparse")
DENSE_MAX_BYTES = 1 << 26  # the largest dense P stored as such, and digested as dense bytes
DIGEST_BLOCK_ROWS = 4096  # (s, a) rows densified at a time when a sparse P is digested

REWARD_NOISE = ("deterministic", "bernoulli", "gaussian")
"""How a realised reward is drawn from the expected reward ``R[s, a]``:

- ``deterministic``: ``r = R[s, a]``, or ``r = R_next[s, a, s']`` when the reward depends on
  the successor (gymnasium's toy-text tasks pay on *entering* a goal);
- ``bernoulli``: ``r ~ Bernoulli(R[s, a])``, so ``R`` must lie in [0, 1];
- ``gaussian``: ``r = R[s, a] + reward_std * N(0, 1)``.
"""

OBJECTIVES = ("finite", "discounted")
ROW_SUM_TOL = 1e-8
DIGEST_DECIMALS = 12  # digest rounds to 1e-12 so last-ulp libm differences never change it


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite episodic MDP with known model.

    The value of a policy is ``E[sum_{t<H} discount**t * r_t]`` from ``s_0 ~ mu0``. Entering a
    terminal state ends the episode; mathematically terminal states are absorbing with reward 0,
    and the validator requires their rows to say so (``make_absorbing`` builds them).

    Attributes:
        P: (S, A, S) transition probabilities, each row summing to 1; or, stored sparse, the
            (S*A, S) ``scipy.sparse`` CSR matrix of the same rows (canonical: sorted
            successors, no explicit zeros, read-only).
        R: (S, A) expected reward.
        mu0: (S,) initial state distribution.
        horizon: H >= 1, the maximum episode length.
        discount: gamma in [0, 1].
        terminal: (S,) bool mask of terminal states (default: none).
        reward_noise: one of ``REWARD_NOISE``.
        reward_std: standard deviation of the Gaussian noise (0 otherwise).
        R_next: optional (S, A, S) successor-dependent deterministic reward; then
            ``R[s, a] == sum_s' P[s, a, s'] * R_next[s, a, s']``. Stored like ``P``; sparse,
            it has exactly ``P``'s non-zero pattern.
        objective: how a policy is scored: ``finite`` (the H-step value above) or
            ``discounted`` (the infinite-horizon value ``E[sum_t discount**t r_t]``, discount
            < 1, stationary policies only; H then only caps an episode's length).
        storage: ``auto`` (sparse when the dense P would exceed ``DENSE_MAX_BYTES``),
            ``dense`` or ``sparse``. ``P`` and ``R_next`` may be given in either form.

    Arrays are copied, validated once, and made read-only; a bad input raises ``ValueError``
    naming the field and the offending index.
    """

    P: np.ndarray
    R: np.ndarray
    mu0: np.ndarray
    horizon: int
    discount: float = 1.0
    terminal: np.ndarray | None = None
    reward_noise: str = "deterministic"
    reward_std: float = 0.0
    R_next: np.ndarray | None = None
    objective: str = "finite"
    storage: str = "auto"
    _digest: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.storage not in STORAGES:
            raise ValueError(f"storage {self.storage!r} is unknown; choose one of {STORAGES}")
        S, A = _sizes(self.P)
        R = _as_float_array("R", self.R, ndim=2, shape=(S, A))
        mu0 = _as_float_array("mu0", self.mu0, ndim=1, shape=(S,))
        terminal = (
            np.zeros(S, dtype=bool)
            if self.terminal is None
            else _as_bool_array("terminal", self.terminal, (S,))
        )
        sparse = _stored_sparse(self.storage, S, A)
        P = _as_sparse_P(self.P, S, A) if sparse else _as_dense_P(self.P, S, A)
        R_next = None if self.R_next is None else (
            _as_sparse_R_next(self.R_next, P, S, A) if sparse
            else _as_float_array("R_next", _dense(self.R_next, S, A), ndim=3,
                                 shape=(S, A, S)))
        _check_distribution("mu0", mu0)
        horizon, discount = _check_horizon_discount(self.horizon, self.discount)
        _check_rewards(R, P, R_next, self.reward_noise, self.reward_std)
        _check_terminal(P, R, terminal)
        _check_objective(self.objective, discount)
        for name, value in [("P", P), ("R", R), ("mu0", mu0), ("terminal", terminal),
                            ("R_next", R_next), ("horizon", horizon), ("discount", discount),
                            ("reward_std", float(self.reward_std))]:
            _make_read_only(value)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_digest", _compute_digest(self))

    @property
    def num_states(self) -> int:
        return self.R.shape[0]

    @property
    def num_actions(self) -> int:
        return self.R.shape[1]

    @property
    def is_sparse(self) -> bool:
        """Whether ``P`` (and ``R_next``) are stored as (S*A, S) CSR matrices."""
        return issparse(self.P)

    @property
    def num_transitions(self) -> int:
        """The number of (s, a, s') with positive probability."""
        return int(self.P.nnz if self.is_sparse else np.count_nonzero(self.P))

    @property
    def digest(self) -> str:
        """SHA-256 of everything that defines the dynamics and the objective (hex)."""
        return self._digest

    def reward_bounds(self) -> tuple[float, float]:
        """Bounds on a realised reward (expected-reward bounds for Gaussian noise)."""
        if self.reward_noise == "bernoulli":
            return 0.0, 1.0
        if self.R_next is None:
            source = self.R
        else:
            source = (rewards_on_transitions(self.P, self.R_next) if self.is_sparse
                      else self.R_next[self.P > 0])
        return float(source.min()), float(source.max())

    def reward_bound(self) -> float:
        """The largest |reward|: max |reward_bounds()|."""
        return max(abs(b) for b in self.reward_bounds())

    def __repr__(self) -> str:
        return (f"TabularMDP(S={self.num_states}, A={self.num_actions}, H={self.horizon}, "
                f"discount={self.discount}, objective={self.objective!r}, "
                f"{'sparse, ' if self.is_sparse else ''}"
                f"reward_noise={self.reward_noise!r}, "
                f"digest={self.digest[:12]})")


def _sizes(P) -> tuple[int, int]:
    """(S, A) from P's shape: (S, A, S) dense or (S*A, S) sparse."""
    if not (issparse(P) or isinstance(P, np.ndarray)):  # nested lists: shape once an array
        return _sizes(_as_float_array("P", P, ndim=3))
    shape = P.shape
    if issparse(P):
        rows, S = shape
        if S == 0 or rows == 0 or rows % S:
            raise ValueError(f"sparse P has shape {shape}: expected (S*A, S) with at least "
                             "one state and one action")
        return S, rows // S
    if len(shape) != 3:
        raise ValueError(f"P has shape {shape}: expected 3 dimensions (S, A, S)")
    S, A = shape[0], shape[1]
    if S == 0 or A == 0:
        raise ValueError(f"P has shape {shape}: need at least one state and one action")
    if shape[2] != S:
        raise ValueError(f"P has shape {shape}: expected (S, A, S) with S={S}")
    return S, A


def _stored_sparse(storage: str, S: int, A: int) -> bool:
    if storage == "auto":
        return S * A * S * 8 > DENSE_MAX_BYTES
    return storage == "sparse"


def _dense(array, S: int, A: int):
    """A sparse (S*A, S) matrix as the (S, A, S) array; anything else unchanged."""
    return array.toarray().reshape(S, A, S) if issparse(array) else array


def _as_dense_P(P, S: int, A: int) -> np.ndarray:
    arr = _as_float_array("P", _dense(P, S, A), ndim=3, shape=(S, A, S))
    _check_distribution("P", arr)
    return arr


def _as_sparse_P(P, S: int, A: int):
    """The canonical read-only CSR (S*A, S) of P, validated with the dense form's messages."""
    if not issparse(P):
        return _canonical_csr(_as_dense_P(P, S, A).reshape(S * A, S))
    csr = _canonical_csr(P, name="P")
    negative = np.flatnonzero(csr.data < 0)
    if len(negative):
        at = _sparse_index(csr, negative[0], A)
        raise ValueError(f"P has a negative probability {csr.data[negative[0]]} at index {at}")
    sums = np.bincount(_row_of_entries(csr), weights=csr.data, minlength=S * A)
    off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOL)
    if len(off):
        row = (int(off[0]) // A, int(off[0]) % A)
        raise ValueError(f"P row {row} sums to {float(sums[off[0]])!r}, not 1 (tolerance "
                         f"{ROW_SUM_TOL})")
    return csr


def _as_sparse_R_next(R_next, P, S: int, A: int):
    """R_next as a canonical CSR (S*A, S): its own pattern, so that the entries of
    impossible transitions are kept, as the dense form keeps them (and digests them)."""
    if not issparse(R_next):
        arr = _as_float_array("R_next", R_next, ndim=3, shape=(S, A, S))
        return _canonical_csr(arr.reshape(S * A, S))
    if R_next.shape != P.shape:
        raise ValueError(f"sparse R_next has shape {R_next.shape}: expected P's {P.shape}")
    return _canonical_csr(R_next, name="R_next")


def _canonical_csr(matrix, name: str | None = None):
    """A CSR copy with sorted successors, duplicates summed and no explicit zeros; ``name``:
    check its entries are finite (a dense input was checked already)."""
    import scipy.sparse  # only sparse MDPs pay for scipy

    csr = scipy.sparse.csr_array(matrix, dtype=np.float64, copy=True)
    csr.sum_duplicates()
    if name is not None:
        bad = np.flatnonzero(~np.isfinite(csr.data))
        if len(bad):
            at = _sparse_index(csr, bad[0], csr.shape[0] // csr.shape[1])
            raise ValueError(f"{name} has a non-finite entry {csr.data[bad[0]]} at index {at}")
    csr.eliminate_zeros()
    return csr


def _row_of_entries(csr) -> np.ndarray:
    """The (s * A + a) row of every stored entry, in storage order."""
    return np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))


def _sparse_index(csr, entry: int, A: int) -> tuple[int, int, int]:
    """The (s, a, s') index of stored entry number ``entry``."""
    row = int(np.searchsorted(csr.indptr, entry, side="right")) - 1
    return row // A, row % A, int(csr.indices[entry])


def rewards_on_transitions(P, R_next) -> np.ndarray:
    """``R_next`` at ``P``'s stored entries (both sparse (S*A, S)), in ``P``'s order: the
    reward of every possible transition (0 where ``R_next`` stores none)."""
    return np.asarray(R_next[_row_of_entries(P), P.indices]).ravel()


def _make_read_only(value) -> None:
    if issparse(value):
        for part in (value.data, value.indices, value.indptr):
            part.flags.writeable = False
    elif isinstance(value, np.ndarray):
        value.flags.writeable = False


def make_absorbing(P: np.ndarray, R: np.ndarray, terminal: np.ndarray) -> tuple[np.ndarray, ...]:
    """Copies of ``P`` and ``R`` whose terminal states are absorbing with reward 0."""
    P, R = np.array(P, dtype=float), np.array(R, dtype=float)
    idx = np.flatnonzero(terminal)
    P[idx] = 0.0
    P[idx, :, idx] = 1.0
    R[idx] = 0.0
    return P, R


def expected_reward(P: np.ndarray, R_next: np.ndarray) -> np.ndarray:
    """(S, A) expected reward of a successor-dependent reward ``R_next[s, a, s']``."""
    return np.einsum("ijk,ijk->ij", P, R_next)


def _as_float_array(name, value, ndim, shape=None) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not a numeric array: {exc}") from None
    if arr.ndim != ndim or (shape is not None and arr.shape != shape):
        want = shape if shape is not None else f"{ndim} dimensions"
        raise ValueError(f"{name} has shape {arr.shape}: expected {want}")
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        raise ValueError(f"{name} has a non-finite entry {arr[tuple(bad[0])]} at index "
                         f"{tuple(int(i) for i in bad[0])}")
    return arr


def _as_bool_array(name, value, shape) -> np.ndarray:
    arr = np.array(value)
    if arr.shape != shape or arr.dtype != bool:
        raise ValueError(f"{name} must be a bool array of shape {shape}, "
                         f"got {arr.dtype} {arr.shape}")
    return arr.copy()


def _check_distribution(name: str, arr: np.ndarray) -> None:
    neg = np.argwhere(arr < 0)
    if len(neg):
        i = tuple(int(k) for k in neg[0])
        raise ValueError(f"{name} has a negative probability {arr[i]} at index {i}")
    sums = arr.sum(axis=-1)
    off = np.argwhere(np.abs(sums - 1.0) > ROW_SUM_TOL)
    if len(off):
        i = tuple(int(k) for k in off[0])
        where = f" row {i}" if i else ""
        raise ValueError(f"{name}{where} sums to {float(sums[i])!r}, not 1 (tolerance "
                         f"{ROW_SUM_TOL})")


def _check_horizon_discount(horizon, discount) -> tuple[int, float]:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    try:
        discount = float(discount)
    except (TypeError, ValueError):
        raise ValueError(f"discount must be a number in [0, 1], got {discount!r}") from None
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be in [0, 1], got {discount!r}")
    return int(horizon), discount


def _check_rewards(R, P, R_next, noise, std) -> None:
    if noise not in REWARD_NOISE:
        raise ValueError(f"reward_noise {noise!r} is unknown; choose one of {REWARD_NOISE}")
    if noise == "bernoulli" and (R.min() < 0 or R.max() > 1):
        i = np.unravel_index(np.argmax((R < 0) | (R > 1)), R.shape)
        raise ValueError(f"bernoulli rewards need R in [0, 1]; R{tuple(map(int, i))} = {R[i]}")
    if noise == "gaussian":
        if not (isinstance(std, (int, float)) and np.isfinite(std) and std > 0):
            raise ValueError(f"gaussian reward noise needs reward_std > 0, got {std!r}")
    elif std != 0:
        raise ValueError(f"reward_std={std!r} is only meaningful with gaussian noise")
    if R_next is not None:
        if noise != "deterministic":
            raise ValueError("R_next (successor-dependent reward) requires deterministic noise")
        gap = np.abs(_expected_reward(P, R_next, R.shape) - R)
        if gap.max() > 1e-8:
            i = tuple(int(k) for k in np.unravel_index(np.argmax(gap), gap.shape))
            raise ValueError(f"R{i} = {R[i]} is not the expectation of R_next under P "
                             f"({R[i] + gap[i]} or {R[i] - gap[i]}); use expected_reward()")


def _expected_reward(P, R_next, shape) -> np.ndarray:
    if not issparse(P):
        return expected_reward(P, R_next)
    weighted = P.data * rewards_on_transitions(P, R_next)
    return np.bincount(_row_of_entries(P), weights=weighted,
                       minlength=P.shape[0]).reshape(shape)


def _check_objective(objective, discount) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} is unknown; choose one of {OBJECTIVES}")
    if objective == "discounted" and discount >= 1.0:
        raise ValueError("the discounted objective needs discount < 1")


def _check_terminal(P, R, terminal) -> None:
    A = R.shape[1]
    for s in np.flatnonzero(terminal):
        stays = (np.all(P[s, :, s] == 1.0) if not issparse(P) else
                 all(P.indptr[s * A + a + 1] - P.indptr[s * A + a] == 1
                     and P.indices[P.indptr[s * A + a]] == s
                     and P.data[P.indptr[s * A + a]] == 1.0 for a in range(A)))
        if not stays or np.any(R[s] != 0.0):
            raise ValueError(f"terminal state {s} must be absorbing with reward 0 "
                             "(use make_absorbing)")


def _compute_digest(mdp: TabularMDP) -> str:
    """SHA-256 of the MDP, the same whichever way it is stored. Up to ``DENSE_MAX_BYTES`` of
    dense P it hashes the dense arrays' bytes (format 1, every task's digest since 0.1); a
    larger MDP hashes its CSR arrays (format 2), in time linear in its transitions."""
    S, A = mdp.num_states, mdp.num_actions
    fields = (f"S={S} A={A} H={mdp.horizon} discount={mdp.discount!r} "
              f"noise={mdp.reward_noise} std={mdp.reward_std!r} "
              f"R_next={mdp.R_next is not None} objective={mdp.objective}")
    h = hashlib.sha256()
    if S * A * S * 8 <= DENSE_MAX_BYTES:
        h.update(f"rlbench-icl-mdp/1 {fields}".encode())
        for arr in (mdp.P, mdp.R, mdp.mu0, mdp.R_next):
            for block in _dense_blocks(arr, S, A):
                h.update(_rounded_bytes(block))
    else:
        h.update(f"rlbench-icl-mdp/2 {fields}".encode())
        for arr in (mdp.P, mdp.R, mdp.mu0, mdp.R_next):
            if arr is None:
                continue
            if issparse(arr) or arr.ndim == 3:
                csr = arr if issparse(arr) else _canonical_csr(arr.reshape(S * A, S))
                h.update(np.ascontiguousarray(csr.indptr, dtype="<i8").tobytes())
                h.update(np.ascontiguousarray(csr.indices, dtype="<i8").tobytes())
                arr = csr.data
            h.update(_rounded_bytes(arr))
    h.update(np.packbits(mdp.terminal).tobytes())
    return h.hexdigest()


def _dense_blocks(arr, S: int, A: int):
    """The dense array's values in row-major order, in blocks (none for ``None``)."""
    if arr is None:
        return
    if not issparse(arr):
        yield arr
        return
    for start in range(0, S * A, DIGEST_BLOCK_ROWS):
        yield arr[start:start + DIGEST_BLOCK_ROWS].toarray()


def _rounded_bytes(arr: np.ndarray) -> bytes:
    # rounding scales by 10**DIGEST_DECIMALS: a huge value (a reward of 1e300, refused by
    # name when the task is built) overflows there, which is no reason for a numpy warning
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = np.round(arr, DIGEST_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    return np.ascontiguousarray(rounded, dtype="<f8").tobytes()
