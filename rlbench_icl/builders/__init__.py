"""Named task builders: functions ``builder(*, horizon, discount, **params) -> TabularMDP``.

A task file names a builder by one of three names, resolved the same way in every process
(so a worker of any backend rebuilds the task from its file):

- a key of ``BUILDERS`` (the built-in ones, in this package);
- ``package.module:function``, imported on use (a builder of your own, importable where the
  runs execute);
- the name of an entry point in the group ``rlbench_icl.builders`` of an installed package.

A builder that takes a ``task_dir`` keyword receives the directory of the task file that
names it (``arrays`` reads its ``.npz`` from there).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import entry_points

from .arrays import arrays
from .bandits import bernoulli_bandit, gap_bandit
from .chains import deep_sea, distractor_chain, riverswim
from .garnet import garnet, sparse_garnet
from .gridworlds import gridworld
from .layouts import lava_bridge, random_lake, random_maze, rooms, windy_grid
from .toy_text import gymnasium_toy_text

BUILDERS = {
    "arrays": arrays,
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
    "sparse_garnet": sparse_garnet,
    "windy_grid": windy_grid,
}
ENTRY_POINT_GROUP = "rlbench_icl.builders"


class UnknownBuilder(LookupError):
    """A builder name that resolves to nothing callable; the message says why."""


@lru_cache(maxsize=64)
def resolve_builder(name: str) -> Callable:
    """The builder a task file names (see the module docstring)."""
    if name in BUILDERS:
        return BUILDERS[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            builder = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UnknownBuilder(f"cannot import builder {name!r}: {exc}") from None
    else:
        found = entry_points(group=ENTRY_POINT_GROUP, name=name)
        if not found:
            raise UnknownBuilder(f"unknown builder {name!r}")
        builder = next(iter(found)).load()
    if not callable(builder):
        raise UnknownBuilder(f"builder {name!r} is not callable")
    return builder


def takes_task_dir(builder: Callable) -> bool:
    return "task_dir" in inspect.signature(builder).parameters


__all__ = ["BUILDERS", "ENTRY_POINT_GROUP", "UnknownBuilder", "resolve_builder",
           "takes_task_dir"]
