"""Task families: a builder plus distributions over its parameters, and their instances.

A family is data, declared in a task file as a ``[[family]]`` table (see README, "Adding a
family"). Each parameter, the horizon and the episode budget is either a constant or a
distribution, a one-key table:

- ``{ uniform = [lo, hi] }``, ``{ log_uniform = [lo, hi] }``: a float;
- ``{ int = [lo, hi] }``, ``{ log_int = [lo, hi] }``: an integer, both ends included;
- ``{ choice = [a, b, ...] }``: one of the values;
- ``{ seed = true }``: a fresh integer in [0, 2**31), e.g. a layout generator's seed;
- ``{ param = "name" }``: the value drawn for another parameter (e.g. DeepSea's horizon is
  its size).

An instance is (family, instance seed, index) -> a task, drawn from
``SeedSequence([family key, instance seed, index, attempt])`` (never a global generator), so
it is the same on any machine and in any process. Its id is ``<family id>-s<seed>-i<index>``,
so any worker rebuilds it from its id alone. A draw is degenerate when V* - V_rand is below
``min_gap`` times the instance's largest |reward| (a goal that cannot be reached, arms that
tie): it is then redrawn with the next attempt number, up to ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import TaskFileError
from .tasks import Task, TaskSpec

INSTANCE_ID = re.compile(r"^(?P<family>[A-Za-z][A-Za-z0-9_.]*-v[0-9]+)"
                         r"-s(?P<seed>[0-9]+)-i(?P<index>[0-9]+)\Z")
DISTRIBUTIONS = ("uniform", "log_uniform", "int", "log_int", "choice", "seed", "param")
MAX_ATTEMPTS = 100
DEFAULT_MIN_GAP = 0.05


@dataclass(frozen=True)
class FamilySpec:
    """A family as declared in a task file.

    Attributes:
        id: ``Family-vN``; bump N on any change that can move an instance's score.
        description, reference, tags: as a task's; instances carry the tags too.
        builder: a name in ``rlbench_icl.builders.BUILDERS``.
        params: constants and distributions of the builder's keyword arguments.
        horizon, episodes, discount: constants or distributions.
        objective: ``finite`` or ``discounted``.
        offline_dataset_episodes, offline_epsilons: the offline protocol's settings.
        min_gap: a draw with V* - V_rand below ``min_gap * max|reward|`` is redrawn.
        source: the file that declared the family.
    """

    id: str
    description: str
    reference: str
    tags: tuple[str, ...]
    builder: str
    params: dict = field(hash=False)
    horizon: int | dict = field(hash=False)
    episodes: int | dict = field(hash=False)
    discount: float
    objective: str
    offline_dataset_episodes: tuple[int, ...]
    offline_epsilons: tuple[float, ...]
    min_gap: float
    source: Path = field(compare=False)

    @property
    def digest(self) -> str:
        """SHA-256 of everything that defines the family's instances."""
        data = {k: v for k, v in self.__dict__.items()
                if k not in ("source", "description", "reference", "tags")}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()
                              ).hexdigest()

    def instance_id(self, instance_seed: int, index: int) -> str:
        return f"{self.id}-s{int(instance_seed)}-i{int(index)}"


def check_distribution(where: str, name: str, value) -> None:
    """``TaskFileError`` unless ``value`` is a constant or a well-formed distribution."""
    if not isinstance(value, dict):
        return
    if len(value) != 1 or next(iter(value)) not in DISTRIBUTIONS:
        raise TaskFileError(f"{where}: {name} = {value!r}: a distribution is a table with "
                            f"one key among {DISTRIBUTIONS}")
    kind, arg = next(iter(value.items()))
    ranges = kind in ("uniform", "log_uniform", "int", "log_int")
    if ranges and not (isinstance(arg, list) and len(arg) == 2 and arg[0] <= arg[1]
                       and all(isinstance(x, (int, float)) for x in arg)):
        raise TaskFileError(f"{where}: {name}: {kind} takes [low, high] with low <= high")
    if kind.startswith("log") and arg[0] <= 0:
        raise TaskFileError(f"{where}: {name}: {kind} needs a positive low end")
    if kind == "choice" and not (isinstance(arg, list) and arg):
        raise TaskFileError(f"{where}: {name}: choice takes a non-empty list")
    if kind == "seed" and arg is not True:
        raise TaskFileError(f"{where}: {name}: write seed = true")
    if kind == "param" and not isinstance(arg, str):
        raise TaskFileError(f"{where}: {name}: param takes another parameter's name")


def draw_values(spec: FamilySpec, rng: np.random.Generator) -> dict:
    """One draw of every parameter, the horizon and the episode budget: distributions in
    sorted order of their names, then ``param`` references."""
    table = {**spec.params, "horizon": spec.horizon, "episodes": spec.episodes}
    values = {}
    for name in sorted(table):
        value = table[name]
        if isinstance(value, dict) and "param" not in value:
            values[name] = _draw(rng, *next(iter(value.items())))
        elif not isinstance(value, dict):
            values[name] = value
    for name, value in table.items():
        if isinstance(value, dict) and "param" in value:
            if value["param"] not in values:
                raise TaskFileError(f"{spec.source}: family {spec.id!r}: {name} refers to "
                                    f"{value['param']!r}, which is not a parameter")
            values[name] = values[value["param"]]
    return values


def _draw(rng: np.random.Generator, kind: str, arg):
    if kind == "uniform":
        return float(rng.uniform(arg[0], arg[1]))
    if kind == "log_uniform":
        return float(math.exp(rng.uniform(math.log(arg[0]), math.log(arg[1]))))
    if kind == "int":
        return int(rng.integers(arg[0], arg[1] + 1))
    if kind == "log_int":  # log-uniform over [lo, hi + 1), floored: every integer possible
        return int(min(arg[1], math.floor(math.exp(
            rng.uniform(math.log(arg[0]), math.log(arg[1] + 1))))))
    if kind == "choice":
        return arg[int(rng.integers(len(arg)))]
    return int(rng.integers(2**31))  # seed


def instance_rng(spec: FamilySpec, instance_seed: int, index: int, attempt: int
                 ) -> np.random.Generator:
    """The generator of one attempt at one instance: independent of every other."""
    key = int.from_bytes(hashlib.sha256(spec.id.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence(
        [key, int(instance_seed), int(index), int(attempt)]))


def instance_spec(spec: FamilySpec, instance_seed: int, index: int, values: dict
                  ) -> TaskSpec:
    """The ``TaskSpec`` of an instance with these drawn values."""
    params = {k: v for k, v in values.items() if k not in ("horizon", "episodes")}
    return TaskSpec(
        id=spec.instance_id(instance_seed, index),
        description=f"{spec.description} (instance {index} of seed {instance_seed})",
        reference=spec.reference, tags=(*spec.tags, "instance"), builder=spec.builder,
        params=params, horizon=int(values["horizon"]), discount=spec.discount,
        objective=spec.objective, online_episodes=int(values["episodes"]),
        offline_dataset_episodes=spec.offline_dataset_episodes,
        offline_epsilons=spec.offline_epsilons, source=spec.source)


def make_instance(spec: FamilySpec, instance_seed: int, index: int, build) -> Task:
    """Instance ``index`` of ``instance_seed``: the first attempt that is not degenerate.

    ``build(task_spec) -> Task`` builds a drawn spec (the registry's ``build_task``)."""
    reasons = []
    for attempt in range(MAX_ATTEMPTS):
        values = draw_values(spec, instance_rng(spec, instance_seed, index, attempt))
        try:
            task = build(instance_spec(spec, instance_seed, index, values))
        except TaskFileError as exc:  # e.g. optimal = random: degenerate
            reasons.append(str(exc).split(": ", 2)[-1])
            continue
        scale = max(task.mdp.reward_bound(), 1e-12)
        if task.optimal_value - task.random_value >= spec.min_gap * scale:
            return task
        reasons.append(f"gap {task.optimal_value - task.random_value:.3g} < "
                       f"{spec.min_gap} x {scale:.3g}")
    raise TaskFileError(f"{spec.source}: family {spec.id!r}: no non-degenerate instance in "
                        f"{MAX_ATTEMPTS} draws of instance {index}, seed {instance_seed} "
                        f"(last: {reasons[-1]})")


@dataclass(frozen=True)
class SuiteSpec:
    """A named suite: fixed tasks plus instances of families, declared as ``[[suite]]``.

    Attributes:
        name: the word that selects the suite (``dev``, ``test``).
        description: one line.
        tasks: a selector of fixed tasks (ids or tags; "" for none).
        families: a selector of families (ids or tags; "" for none).
        instance_seed: the seed the families' instances are drawn from. The ``test`` seed is
            rotated at each leaderboard release, after the reference models are frozen.
        instances: instances per family.
        seeds: the leaderboard's grid: runs of seeds 0..seeds-1 on every task of the suite.
        source: the file that declared the suite.
    """

    name: str
    description: str
    tasks: str
    families: str
    instance_seed: int
    instances: int
    seeds: int
    source: Path = field(compare=False)
