"""The tabular MDP type: validated, immutable arrays and a stable digest.

Index order, written once for the whole package:
``P[s, a, s']``, ``R[s, a]``, ``R_next[s, a, s']``, ``mu0[s]``, ``Q[h, s, a]``, ``V[h, s]``,
``policy[s, a]`` (stationary) or ``policy[h, s, a]`` (non-stationary).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

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
        P: (S, A, S) transition probabilities; each row sums to 1.
        R: (S, A) expected reward.
        mu0: (S,) initial state distribution.
        horizon: H >= 1, the maximum episode length.
        discount: gamma in [0, 1].
        terminal: (S,) bool mask of terminal states (default: none).
        reward_noise: one of ``REWARD_NOISE``.
        reward_std: standard deviation of the Gaussian noise (0 otherwise).
        R_next: optional (S, A, S) successor-dependent deterministic reward; then
            ``R[s, a] == sum_s' P[s, a, s'] * R_next[s, a, s']``.
        objective: how a policy is scored: ``finite`` (the H-step value above) or
            ``discounted`` (the infinite-horizon value ``E[sum_t discount**t r_t]``, discount
            < 1, stationary policies only; H then only caps an episode's length).

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
    _digest: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        P = _as_float_array("P", self.P, ndim=3)
        S, A = P.shape[0], P.shape[1]
        if S == 0 or A == 0:
            raise ValueError(f"P has shape {P.shape}: need at least one state and one action")
        if P.shape[2] != S:
            raise ValueError(f"P has shape {P.shape}: expected (S, A, S) with S={S}")
        R = _as_float_array("R", self.R, ndim=2, shape=(S, A))
        mu0 = _as_float_array("mu0", self.mu0, ndim=1, shape=(S,))
        terminal = (
            np.zeros(S, dtype=bool)
            if self.terminal is None
            else _as_bool_array("terminal", self.terminal, (S,))
        )
        R_next = (
            None
            if self.R_next is None
            else _as_float_array("R_next", self.R_next, ndim=3, shape=(S, A, S))
        )
        _check_distribution("P", P)
        _check_distribution("mu0", mu0)
        horizon, discount = _check_horizon_discount(self.horizon, self.discount)
        _check_rewards(R, P, R_next, self.reward_noise, self.reward_std)
        _check_terminal(P, R, terminal)
        _check_objective(self.objective, discount)
        for name, value in [("P", P), ("R", R), ("mu0", mu0), ("terminal", terminal),
                            ("R_next", R_next), ("horizon", horizon), ("discount", discount),
                            ("reward_std", float(self.reward_std))]:
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_digest", _compute_digest(self))

    @property
    def num_states(self) -> int:
        return self.P.shape[0]

    @property
    def num_actions(self) -> int:
        return self.P.shape[1]

    @property
    def digest(self) -> str:
        """SHA-256 of everything that defines the dynamics and the objective (hex)."""
        return self._digest

    def reward_bounds(self) -> tuple[float, float]:
        """Bounds on a realised reward (expected-reward bounds for Gaussian noise)."""
        if self.reward_noise == "bernoulli":
            return 0.0, 1.0
        source = self.R if self.R_next is None else self.R_next[self.P > 0]
        return float(source.min()), float(source.max())

    def reward_bound(self) -> float:
        """The largest |reward|: max |reward_bounds()|."""
        return max(abs(b) for b in self.reward_bounds())

    def __repr__(self) -> str:
        return (f"TabularMDP(S={self.num_states}, A={self.num_actions}, H={self.horizon}, "
                f"discount={self.discount}, objective={self.objective!r}, "
                f"reward_noise={self.reward_noise!r}, "
                f"digest={self.digest[:12]})")


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
        gap = np.abs(expected_reward(P, R_next) - R)
        if gap.max() > 1e-8:
            i = tuple(int(k) for k in np.unravel_index(np.argmax(gap), gap.shape))
            raise ValueError(f"R{i} = {R[i]} is not the expectation of R_next under P "
                             f"({R[i] + gap[i]} or {R[i] - gap[i]}); use expected_reward()")


def _check_objective(objective, discount) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} is unknown; choose one of {OBJECTIVES}")
    if objective == "discounted" and discount >= 1.0:
        raise ValueError("the discounted objective needs discount < 1")


def _check_terminal(P, R, terminal) -> None:
    for s in np.flatnonzero(terminal):
        if not np.all(P[s, :, s] == 1.0) or np.any(R[s] != 0.0):
            raise ValueError(f"terminal state {s} must be absorbing with reward 0 "
                             "(use make_absorbing)")


def _compute_digest(mdp: TabularMDP) -> str:
    h = hashlib.sha256()
    header = (f"rlbench-icl-mdp/1 S={mdp.num_states} A={mdp.num_actions} H={mdp.horizon} "
              f"discount={mdp.discount!r} noise={mdp.reward_noise} std={mdp.reward_std!r} "
              f"R_next={mdp.R_next is not None} objective={mdp.objective}")
    h.update(header.encode())
    for arr in (mdp.P, mdp.R, mdp.mu0, mdp.R_next):
        if arr is not None:
            rounded = np.round(arr, DIGEST_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
            h.update(np.ascontiguousarray(rounded, dtype="<f8").tobytes())
    h.update(np.packbits(mdp.terminal).tobytes())
    return h.hexdigest()
