"""Named task builders: functions ``builder(*, horizon, discount, **params) -> TabularMDP``.

A task file names one of ``BUILDERS`` and gives its parameters; adding a builder means adding
a function here.
"""

from .bandits import bernoulli_bandit, gap_bandit
from .chains import deep_sea, distractor_chain, riverswim
from .garnet import garnet
from .gridworlds import gridworld
from .layouts import lava_bridge, random_lake, random_maze, rooms, windy_grid
from .toy_text import gymnasium_toy_text

BUILDERS = {
    "bernoulli_bandit": bernoulli_bandit,
    "deep_sea": deep_sea,
    "distractor_chain": distractor_chain,
    "gap_bandit": gap_bandit,
    "garnet": garnet,
    "gridworld": gridworld,
    "gymnasium_toy_text": gymnasium_toy_text,
    "lava_bridge": lava_bridge,
    "random_lake": random_lake,
    "random_maze": random_maze,
    "riverswim": riverswim,
    "rooms": rooms,
    "windy_grid": windy_grid,
}

__all__ = ["BUILDERS"]
