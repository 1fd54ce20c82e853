"""Gridworlds declared as text layouts: FourRooms, windy gridworld, the paper's grids and lakes.

Layout characters: ``.`` free, ``#`` wall, ``S`` start (mu0 is uniform over them), ``G`` goal and
``H`` hole (both terminal). Actions: 0 up, 1 down, 2 left, 3 right. A move into a wall or off the
grid stays put. Rewards are paid on entering a cell: ``goal_reward`` or ``hole_reward`` are
added to ``step_reward``, which every move pays.
"""

from __future__ import annotations

import numpy as np

from ..mdp import DENSE_MAX_BYTES, TabularMDP, expected_reward, make_absorbing

MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])  # up, down, left, right
PERPENDICULAR = {0: (2, 3), 1: (2, 3), 2: (0, 1), 3: (0, 1)}
SLIP_MODES = ("perpendicular", "uniform")


def gridworld(*, layout: list[str], horizon: int, discount: float = 1.0, slip: float = 0.0,
              slip_mode: str = "perpendicular", step_reward: float = 0.0,
              goal_reward: float = 1.0, hole_reward: float = 0.0,
              wind: list[int] | None = None) -> TabularMDP:
    """A gridworld MDP from a text layout.

    Args:
        slip: probability that the intended move is replaced by another one: split evenly
            between the two perpendicular moves (``perpendicular``) or the three other moves
            (``uniform``).
        wind: optional upward push per column, applied after the move from the column the agent
            left (Sutton & Barto, Example 6.5), stopped by the grid's edge and by walls.

    A grid whose dense (S, 4, S) transitions would pass ``mdp.DENSE_MAX_BYTES`` (about 1,450
    free cells and more) is built as a sparse matrix, in time and memory linear in its cells:
    the same probabilities, with the rewards of entering a cell stored only on the
    transitions that can happen (the dense form stores them everywhere).
    """
    grid = _parse_layout(layout)
    if slip_mode not in SLIP_MODES:
        raise ValueError(f"slip_mode {slip_mode!r} is unknown; choose one of {SLIP_MODES}")
    if wind is not None and len(wind) != grid.shape[1]:
        raise ValueError(f"wind has {len(wind)} entries for a grid {grid.shape[1]} columns wide")
    kinds = grid[grid != "#"]  # the free cells, row by row: state s is the s-th of them
    S = len(kinds)
    targets = _move_targets(grid, wind)
    rows, cols, probs = _transitions(targets, slip, slip_mode)
    terminal = np.isin(kinds, ["G", "H"])
    enter = step_reward + np.where(kinds == "G", goal_reward, 0.0) + np.where(
        kinds == "H", hole_reward, 0.0)
    starts = kinds == "S"
    common = dict(mu0=starts / starts.sum(), horizon=horizon, discount=discount,
                  terminal=terminal)
    if S * 4 * S * 8 > DENSE_MAX_BYTES:
        P, R, R_next = _sparse_model(rows, cols, probs, enter, terminal)
        return TabularMDP(P=P, R=R, R_next=R_next, **common)
    P = np.zeros((S, 4, S))
    np.add.at(P.reshape(S * 4, S), (rows, cols), probs)  # in move order, as a loop would
    P, _ = make_absorbing(P, np.zeros((S, 4)), terminal)
    R_next = np.broadcast_to(enter, (S, 4, S)).copy()
    R_next[terminal] = 0.0
    return TabularMDP(P=P, R=expected_reward(P, R_next), R_next=R_next, **common)


def _move_targets(grid: np.ndarray, wind) -> np.ndarray:
    """(4, S): the state each move leads to from each free cell, walls, edges and wind
    applied (the wind of the column the move starts from)."""
    free = grid != "#"
    index = np.full(grid.shape, -1)
    index[free] = np.arange(free.sum())
    row, col = np.nonzero(free)
    targets = np.empty((4, len(row)), dtype=np.int64)
    for move, delta in enumerate(MOVES):
        r, c = _step(free, row, col, delta)
        if wind:
            push = np.asarray(wind)[col]
            for k in range(int(push.max(initial=0))):
                windy = push > k
                r[windy], c[windy] = _step(free, r[windy], c[windy], MOVES[0])
        targets[move] = index[r, c]
    return targets


def _step(free: np.ndarray, row: np.ndarray, col: np.ndarray, delta) -> tuple[np.ndarray, ...]:
    """Cells one ``delta`` away, or the same cells where that leaves the grid or hits a wall."""
    r, c = row + delta[0], col + delta[1]
    inside = (r >= 0) & (r < free.shape[0]) & (c >= 0) & (c < free.shape[1])
    moved = inside.copy()
    moved[inside] = free[r[inside], c[inside]]
    return np.where(moved, r, row), np.where(moved, c, col)


def _transitions(targets: np.ndarray, slip: float, mode: str) -> tuple[np.ndarray, ...]:
    """``(rows, cols, probs)`` of every move's contribution to ``P[s * 4 + a, s']``, ordered by
    (action, move) as ``_move_distribution`` lists them: summed in this order, repeated
    entries give the same floats as adding them one by one."""
    S = targets.shape[1]
    rows, cols, probs = [], [], []
    for a in range(4):
        for move, prob in _move_distribution(a, slip, mode):
            rows.append(np.arange(S) * 4 + a)
            cols.append(targets[move])
            probs.append(np.full(S, prob))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(probs)


def _sparse_model(rows, cols, probs, enter, terminal) -> tuple:
    """CSR (S*4, S) P and R_next (rewards on possible transitions only) and (S, 4) R, terminal
    states absorbing with reward 0; repeated entries summed in move order."""
    import scipy.sparse  # only large grids need it

    S = len(enter)
    live = ~terminal[rows // 4] & (probs > 0)
    rows, cols, probs = rows[live], cols[live], probs[live]
    order = np.lexsort((cols, rows))  # stable: a repeated entry keeps its move order
    rows, cols, probs = rows[order], cols[order], probs[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    slot = np.cumsum(first) - 1
    summed = np.zeros(int(first.sum()))
    np.add.at(summed, slot, probs)  # unbuffered, in order: ((0 + p1) + p2) + p3
    rows, cols = rows[first], cols[first]
    absorbing = np.flatnonzero(terminal)
    rows = np.concatenate([rows, np.repeat(absorbing * 4, 4) + np.tile(np.arange(4),
                                                                        len(absorbing))])
    cols = np.concatenate([cols, np.repeat(absorbing, 4)])
    summed = np.concatenate([summed, np.ones(4 * len(absorbing))])
    shape = (S * 4, S)
    P = scipy.sparse.csr_array((summed, (rows, cols)), shape=shape)
    reward = np.where(terminal[rows // 4], 0.0, enter[cols])
    R_next = scipy.sparse.csr_array((reward, (rows, cols)), shape=shape)
    R = np.bincount(rows, weights=summed * reward, minlength=S * 4).reshape(S, 4)
    return P, R, R_next


def _parse_layout(layout: list[str]) -> np.ndarray:
    if not layout or any(len(row) != len(layout[0]) for row in layout):
        raise ValueError("layout must be a non-empty list of rows of equal length")
    grid = np.array([list(row) for row in layout])
    unknown = set(grid.ravel()) - set(".#SGH")
    if unknown:
        raise ValueError(f"layout has unknown characters {sorted(unknown)}; use . # S G H")
    if not (grid == "S").any():
        raise ValueError("layout has no start cell 'S'")
    return grid


def _move_distribution(action: int, slip: float, mode: str) -> list[tuple[int, float]]:
    if not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip must be in [0, 1], got {slip}")
    others = PERPENDICULAR[action] if mode == "perpendicular" else [
        b for b in range(4) if b != action]
    return [(action, 1.0 - slip)] + [(b, slip / len(others)) for b in others]
