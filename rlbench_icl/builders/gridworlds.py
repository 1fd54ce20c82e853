"""Gridworlds declared as text layouts: FourRooms, windy gridworld, the paper's grids and lakes.

Layout characters: ``.`` free, ``#`` wall, ``S`` start (mu0 is uniform over them), ``G`` goal and
``H`` hole (both terminal). Actions: 0 up, 1 down, 2 left, 3 right. A move into a wall or off the
grid stays put. Rewards are paid on entering a cell: ``goal_reward`` or ``hole_reward`` are
added to ``step_reward``, which every move pays.
"""

from __future__ import annotations

import numpy as np

from ..mdp import TabularMDP, expected_reward, make_absorbing

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
    """
    grid = _parse_layout(layout)
    if slip_mode not in SLIP_MODES:
        raise ValueError(f"slip_mode {slip_mode!r} is unknown; choose one of {SLIP_MODES}")
    if wind is not None and len(wind) != grid.shape[1]:
        raise ValueError(f"wind has {len(wind)} entries for a grid {grid.shape[1]} columns wide")
    cells = [tuple(c) for c in np.argwhere(grid != "#")]
    index = {cell: i for i, cell in enumerate(cells)}
    S = len(cells)
    P = np.zeros((S, 4, S))
    for s, cell in enumerate(cells):
        for a in range(4):
            for move, prob in _move_distribution(a, slip, slip_mode):
                P[s, a, index[_next_cell(grid, cell, move, wind)]] += prob
    kinds = np.array([grid[c] for c in cells])
    terminal = np.isin(kinds, ["G", "H"])
    P, _ = make_absorbing(P, np.zeros((S, 4)), terminal)
    enter = step_reward + np.where(kinds == "G", goal_reward, 0.0) + np.where(
        kinds == "H", hole_reward, 0.0)
    R_next = np.broadcast_to(enter, (S, 4, S)).copy()
    R_next[terminal] = 0.0
    starts = kinds == "S"
    return TabularMDP(P=P, R=expected_reward(P, R_next), mu0=starts / starts.sum(),
                      horizon=horizon, discount=discount, terminal=terminal, R_next=R_next)


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


def _next_cell(grid: np.ndarray, cell: tuple[int, int], move: int, wind) -> tuple[int, int]:
    target = _step(grid, cell, MOVES[move])
    if wind:
        for _ in range(wind[cell[1]]):
            target = _step(grid, target, MOVES[0])
    return target


def _step(grid: np.ndarray, cell: tuple[int, int], delta: np.ndarray) -> tuple[int, int]:
    row, col = cell[0] + delta[0], cell[1] + delta[1]
    inside = 0 <= row < grid.shape[0] and 0 <= col < grid.shape[1]
    return (int(row), int(col)) if inside and grid[row, col] != "#" else cell
