"""Generated gridworlds: random lakes, mazes, rooms with doors, lava bridges and windy grids.

Each builder draws a text layout from its ``seed`` (a ``numpy`` generator of its own, so the
same parameters give the same layout on any machine) and hands it to ``gridworld``. The
layout generators are plain functions too (``lake_layout``, ``maze_layout``,
``rooms_layout``), usable on their own.
"""

from __future__ import annotations

import numpy as np
from gymnasium.envs.toy_text.frozen_lake import generate_random_map

from ..mdp import TabularMDP
from .gridworlds import gridworld

# gymnasium's slippery FrozenLake: the intended move and each perpendicular one, 1/3 each.
LAKE_SLIP = 2.0 / 3.0


def lake_layout(size: int, frozen_prob: float, seed: int) -> list[str]:
    """gymnasium's random FrozenLake map (a path from S to G exists), in this package's
    layout characters (``F`` frozen becomes ``.``)."""
    return [row.replace("F", ".") for row in generate_random_map(size, frozen_prob, seed)]


def random_lake(*, size: int, frozen_prob: float, seed: int, horizon: int,
                discount: float = 1.0, slip: float = LAKE_SLIP) -> TabularMDP:
    """A random FrozenLake: start top-left, goal (reward 1) bottom-right, holes end the
    episode with reward 0; by default as slippery as gymnasium's."""
    return gridworld(layout=lake_layout(size, frozen_prob, seed), horizon=horizon,
                     discount=discount, slip=slip)


def maze_layout(rows: int, cols: int, seed: int) -> list[str]:
    """A perfect maze of ``rows`` x ``cols`` cells (one path between any two cells), drawn by
    a randomised depth-first search; start in the top-left cell, goal in the bottom-right.
    The layout is (2 rows + 1) x (2 cols + 1) characters, walls included."""
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise ValueError(f"a maze needs at least 2 cells, got {rows} x {cols}")
    rng = np.random.default_rng(seed)
    grid = np.full((2 * rows + 1, 2 * cols + 1), "#")
    seen = np.zeros((rows, cols), dtype=bool)
    stack = [(0, 0)]
    seen[0, 0] = True
    grid[1, 1] = "."
    while stack:
        r, c = stack[-1]
        options = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                   if 0 <= r + dr < rows and 0 <= c + dc < cols and not seen[r + dr, c + dc]]
        if not options:
            stack.pop()
            continue
        nr, nc = options[rng.integers(len(options))]
        seen[nr, nc] = True
        grid[2 * nr + 1, 2 * nc + 1] = "."
        grid[r + nr + 1, c + nc + 1] = "."  # the wall between the two cells
        stack.append((nr, nc))
    grid[1, 1], grid[2 * rows - 1, 2 * cols - 1] = "S", "G"
    return ["".join(row) for row in grid]


def random_maze(*, rows: int, cols: int, seed: int, horizon: int, discount: float = 1.0,
                slip: float = 0.0) -> TabularMDP:
    """A random maze: reward 1 on reaching the goal cell, which ends the episode."""
    return gridworld(layout=maze_layout(rows, cols, seed), horizon=horizon, discount=discount,
                     slip=slip)


def rooms_layout(num_rooms: int, room_size: int, seed: int) -> list[str]:
    """``num_rooms`` x ``num_rooms`` square rooms of ``room_size`` cells a side, separated by
    walls with one door (at a random place) between every two neighbouring rooms; start in
    the top-left corner, goal in the bottom-right one."""
    if num_rooms < 1 or room_size < 1 or num_rooms * room_size < 2:
        raise ValueError(f"rooms need at least 2 cells, got {num_rooms} rooms of {room_size}")
    rng = np.random.default_rng(seed)
    side = num_rooms * (room_size + 1) + 1
    grid = np.full((side, side), "#")
    for i in range(num_rooms):
        for j in range(num_rooms):
            top, left = i * (room_size + 1) + 1, j * (room_size + 1) + 1
            grid[top:top + room_size, left:left + room_size] = "."
            if j + 1 < num_rooms:  # a door in the wall to the right
                grid[top + rng.integers(room_size), left + room_size] = "."
            if i + 1 < num_rooms:  # a door in the wall below
                grid[top + room_size, left + rng.integers(room_size)] = "."
    grid[1, 1], grid[side - 2, side - 2] = "S", "G"
    return ["".join(row) for row in grid]


def rooms(*, num_rooms: int, room_size: int, seed: int, horizon: int, discount: float = 1.0,
          slip: float = 0.0) -> TabularMDP:
    """Rooms with doors: reward 1 on reaching the goal in the far room."""
    return gridworld(layout=rooms_layout(num_rooms, room_size, seed), horizon=horizon,
                     discount=discount, slip=slip)


def lava_bridge(*, length: int, width: int, horizon: int, discount: float = 1.0,
                slip: float = 0.1, lava_reward: float = -1.0) -> TabularMDP:
    """A bridge ``width`` cells wide and ``length`` long over lava: start at its left end,
    goal (reward 1) at its right end; a slip sideways can drop the agent into the lava on
    either side, which ends the episode with ``lava_reward``."""
    if length < 2 or width < 1:
        raise ValueError(f"a bridge needs length >= 2 and width >= 1, got {length}, {width}")
    lava = "H" * (length + 2)
    middle = width // 2
    rows = ["H" + ("S" if r == middle else ".") + "." * (length - 2)
            + ("G" if r == middle else ".") + "H" for r in range(width)]
    return gridworld(layout=[lava, *rows, lava], horizon=horizon, discount=discount,
                     slip=slip, hole_reward=lava_reward)


def windy_grid(*, rows: int, cols: int, max_wind: int, seed: int, horizon: int,
               discount: float = 1.0, step_reward: float = -1.0) -> TabularMDP:
    """Sutton & Barto's windy gridworld with a random wind (0..``max_wind`` upward per
    column) and goal: start in the middle of the left column, goal in a random cell of the
    right half; every step costs ``step_reward``, reaching the goal ends the episode."""
    if rows < 2 or cols < 3:
        raise ValueError(f"a windy grid needs at least 2 x 3 cells, got {rows} x {cols}")
    rng = np.random.default_rng(seed)
    wind = rng.integers(0, max_wind + 1, size=cols)
    wind[0] = 0  # no wind where the agent starts
    grid = np.full((rows, cols), ".")
    grid[rows // 2, 0] = "S"
    grid[rng.integers(rows), rng.integers(cols // 2 + 1, cols)] = "G"
    return gridworld(layout=["".join(r) for r in grid], horizon=horizon, discount=discount,
                     step_reward=step_reward, goal_reward=0.0, wind=[int(w) for w in wind])
