"""The task registry: task files (TOML) under ``tasks/`` and any extra task directories.

A task file holds ``[[task]]`` tables (see README, "Adding a task") and ``[[family]]`` tables
(``rlbench_icl.families``). The registry is small and strict: an unknown field, a bad value,
an unknown builder or a duplicate id raises a ``TaskFileError`` naming the file, the task and
the field. A family's instances are tasks like the others, named ``<family>-s<seed>-i<k>``:
``make`` builds one from its id alone.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import re
import sys
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from ._seal import check_unsealed
from .builders import BUILDERS, UnknownBuilder, resolve_builder, takes_task_dir
from .errors import TaskFileError, UnknownNameError
from .families import (
    DEFAULT_MIN_GAP,
    INSTANCE_ID,
    FamilySpec,
    SuiteSpec,
    check_distribution,
    make_instance,
)
from .mdp import OBJECTIVES
from .tasks import TASK_ID, Task, TaskSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TASK_PATH_ENV = "RLBENCH_ICL_TASK_PATH"
"""Extra task directories, separated by ``os.pathsep``, added to every default registry."""

BUILTIN_TASK_DIR = Path(__file__).resolve().parent.parent / "tasks"

DEFAULT_DATASET_EPISODES = (5, 50, 500)
LARGE = "large"  # the tag of tasks too big to start by accident: `all` and other tags skip them
DEFAULT_EPSILONS = (1.0, 0.5, 0.1)  # uniform random, and two epsilon-optimal mixtures

REQUIRED = {"id": str, "description": str, "tags": list, "builder": str, "horizon": int,
            "episodes": int}
OPTIONAL = {"reference": str, "params": dict, "discount": (int, float), "objective": str,
            "offline": dict}
OFFLINE_FIELDS = {"dataset_episodes": list, "epsilons": list}
FAMILY_REQUIRED = {**REQUIRED, "horizon": (int, dict), "episodes": (int, dict)}
FAMILY_OPTIONAL = {**OPTIONAL, "min_gap": (int, float)}
SUITE_FIELDS = {"name": str, "description": str, "tasks": str, "families": str,
                "instance_seed": int, "instances": int, "seeds": int}
MAX_HORIZON = 100_000
MAX_EPISODES = 1_000_000
MAX_REWARD = 1e12
"""Bounds on what a task may declare: beyond them a run overflows or never ends."""
SUITE_NAME = re.compile(r"^[a-z][a-z0-9_]*\Z")


class Registry:
    """Task and family specs by id; tasks (instances included) are built on first use and
    cached."""

    def __init__(self, specs: Iterable[TaskSpec | FamilySpec] = ()):
        self._specs: dict[str, TaskSpec] = {}
        self._families: dict[str, FamilySpec] = {}
        self._suites: dict[str, SuiteSpec] = {}
        self._tasks: dict[str, Task] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: TaskSpec | FamilySpec | SuiteSpec) -> None:
        if isinstance(spec, SuiteSpec):
            self._add_suite(spec)
            return
        known = self._specs.get(spec.id) or self._families.get(spec.id)
        if known is not None:
            raise TaskFileError(f"{spec.source}: id {spec.id!r} is already declared in "
                                f"{known.source}")
        (self._families if isinstance(spec, FamilySpec) else self._specs)[spec.id] = spec

    @property
    def ids(self) -> list[str]:
        """The fixed tasks' ids (instances are named by ``instances``)."""
        return sorted(self._specs)

    @property
    def family_ids(self) -> list[str]:
        return sorted(self._families)

    @property
    def suites(self) -> dict[str, SuiteSpec]:
        return dict(sorted(self._suites.items()))

    def _add_suite(self, suite: SuiteSpec) -> None:
        if suite.name in self._suites:
            raise TaskFileError(f"{suite.source}: suite {suite.name!r} is already declared "
                                f"in {self._suites[suite.name].source}")
        self._suites[suite.name] = suite

    def knows(self, task_id: str) -> bool:
        """Whether ``task_id`` is a fixed task or an instance of a registered family."""
        match = INSTANCE_ID.match(task_id)
        return task_id in self._specs or bool(match and match["family"] in self._families)

    def family(self, family_id: str) -> FamilySpec:
        if family_id not in self._families:
            raise UnknownNameError(_unknown_message("family", family_id, self.family_ids))
        return self._families[family_id]

    def spec(self, task_id: str) -> TaskSpec:
        if INSTANCE_ID.match(task_id):
            return self.make(task_id).spec
        if task_id not in self._specs:
            raise UnknownNameError(_unknown_message("task id", task_id, self.ids))
        return self._specs[task_id]

    def make(self, task_id: str) -> Task:
        """The built task or family instance (cached)."""
        if task_id not in self._tasks:
            match = INSTANCE_ID.match(task_id)
            if match:
                self._tasks[task_id] = make_instance(
                    self.family(match["family"]), int(match["seed"]), int(match["index"]),
                    build_task)
            else:
                self._tasks[task_id] = build_task(self.spec(task_id))
        return self._tasks[task_id]

    def tags(self) -> list[str]:
        specs = [*self._specs.values(), *self._families.values()]
        return sorted({tag for spec in specs for tag in spec.tags})

    def instances(self, family_ids: Iterable[str], instance_seed: int, count: int
                  ) -> list[str]:
        """Ids of instances 0..count-1 of each family, drawn from ``instance_seed``."""
        return [self.family(f).instance_id(instance_seed, k)
                for f in family_ids for k in range(count)]

    def ranking_grid(self, selector: str, default_seeds: int = 10,
                     instance_seed: int | None = None, instances: int | None = None
                     ) -> tuple[list[str], int]:
        """The grid a leaderboard ranks ``selector`` on: its tasks (``select``) and N, for
        seeds 0..N-1: the suite's declared ``seeds``, or ``default_seeds`` for a selector
        that names no suite. ``leaderboard`` ranks on it; ``run`` says what it lacks."""
        suite = self._suites.get(selector)
        seeds = suite.seeds if suite is not None else default_seeds
        return self.select(selector, instance_seed, instances), seeds

    def select(self, selector: str, instance_seed: int | None = None,
               instances: int | None = None) -> list[str]:
        """Task ids matching a comma-separated list of task ids, instance ids, suite names,
        family ids, tags, or ``all`` (every fixed task but the ``large`` ones, which only their
        ids and the tag ``large`` select: 10^4 to 10^6 states, not to start by accident).

        A suite gives its fixed tasks and ``instances`` instances of each of its families,
        drawn from ``instance_seed``: the suite's own unless given here. A family (by id, or
        by a tag it carries) gives ``instances`` instances, drawn from ``instance_seed``
        (default 0). Without ``instances``, a tag selects only its fixed tasks, and a word
        that names only families is an error saying so."""
        chosen: list[str] = []
        for word in (w.strip() for w in selector.split(",") if w.strip()):
            for task_id in self._expand(word, instance_seed, instances):
                if task_id not in chosen:
                    chosen.append(task_id)
        return chosen

    def select_some(self, selector: str, instance_seed: int | None = None,
                    instances: int | None = None) -> list[str]:
        """``select``, for a command that runs or lists what it selects: selecting nothing
        (an empty selector, or zero instances of families only) is an error, not an empty
        table."""
        chosen = self.select(selector, instance_seed, instances)
        if not chosen:
            why = " with 0 instances" if instances == 0 and selector.strip(", ") else ""
            suites = ", ".join(self._suites) or "none declared"
            raise UnknownNameError(f"task selection {selector!r} selects no task{why}: name "
                                   f"task ids, suites ({suites}), families or tags "
                                   "(`rlbench-icl tasks` lists them)")
        return chosen

    def _expand(self, word: str, instance_seed: int | None, instances: int | None
                ) -> list[str]:
        if word in self._suites:
            suite = self._suites[word]
            seed = suite.instance_seed if instance_seed is None else instance_seed
            count = suite.instances if instances is None else instances
            tasks = self.select(suite.tasks) if suite.tasks else []
            families = self._families_of(suite.families) if suite.families else []
            return tasks + self.instances(families, seed, count)
        tasks, families = self._match(word)
        if families and instances is None and tasks:
            return tasks  # a tag of fixed tasks and families: the families need a count
        if families and instances is None:
            raise UnknownNameError(f"{word!r} names families ({', '.join(families)}): say how "
                                   "many instances of each (--instances K), or name a suite "
                                   f"({', '.join(self._suites) or 'none declared'})")
        return tasks + self.instances(families, instance_seed or 0, instances or 0)

    def _everyday(self, task_ids: list[str]) -> list[str]:
        """``task_ids`` without the ``large`` ones (named by id or by that tag only)."""
        return [i for i in task_ids if LARGE not in self._specs[i].tags]

    def _families_of(self, selector: str) -> list[str]:
        families = []
        for word in (w.strip() for w in selector.split(",") if w.strip()):
            families += [f for f in self._match(word)[1] if f not in families]
        return families

    def _match(self, word: str) -> tuple[list[str], list[str]]:
        """(task ids, family ids) a selector word names."""
        if word == "all":
            return self._everyday(self.ids), []
        if word in self._specs or INSTANCE_ID.match(word):
            return [word], []
        if word in self._families:
            return [], [word]
        if word in self.tags():
            tagged = [i for i in self.ids if word in self._specs[i].tags]
            return (tagged if word == LARGE else self._everyday(tagged),
                    [f for f in self.family_ids if word in self._families[f].tags])
        known = self.ids + self.family_ids + list(self._suites) + self.tags() + ["all"]
        raise UnknownNameError(_unknown_message("task id, suite, family or tag", word, known))


def load_registry(paths: Sequence[str | os.PathLike] = ()) -> Registry:
    """A registry of the built-in tasks, ``$RLBENCH_ICL_TASK_PATH`` and ``paths``."""
    env_paths = [p for p in os.environ.get(TASK_PATH_ENV, "").split(os.pathsep) if p]
    registry = Registry()
    for directory in [BUILTIN_TASK_DIR, *env_paths, *paths]:
        for spec in read_task_dir(Path(directory)):
            registry.add(spec)
    return registry


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The process-wide registry of built-in tasks and ``$RLBENCH_ICL_TASK_PATH``."""
    return load_registry()


def read_task_dir(directory: Path) -> list[TaskSpec | FamilySpec | SuiteSpec]:
    if not directory.is_dir():
        hint = (" (the built-in tasks are read from the source tree: install with "
                "`pip install -e .`)" if directory == BUILTIN_TASK_DIR else "")
        raise TaskFileError(f"task directory {directory} does not exist{hint}")
    return [spec for path in sorted(directory.glob("*.toml")) for spec in read_task_file(path)]


def read_task_file(path: Path) -> list[TaskSpec | FamilySpec | SuiteSpec]:
    """All task, family and suite specs declared in one TOML file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TaskFileError(f"{path}: cannot read task file: {exc}") from None
    tables = {k: data.get(k) for k in ("task", "family", "suite")}
    if set(data) - set(tables) or not any(isinstance(t, list) and t for t in tables.values()):
        raise TaskFileError(f"{path}: a task file holds [[task]], [[family]] and [[suite]] "
                            f"tables and nothing else (found keys {sorted(data)})")
    return ([_parse_task(path, i, t) for i, t in enumerate(tables["task"] or [])]
            + [_parse_family(path, i, t) for i, t in enumerate(tables["family"] or [])]
            + [_parse_suite(path, i, t) for i, t in enumerate(tables["suite"] or [])])


def build_task(spec: TaskSpec) -> Task:
    """Run the spec's builder; any failure names the file and the task."""
    check_unsealed(f"task {spec.id!r}")
    where = f"{spec.source}: task {spec.id!r}"
    _check_sizes(where, spec.horizon, spec.online_episodes, spec.offline_dataset_episodes)
    builder = resolve_builder(spec.builder)
    extra = {"task_dir": spec.source.parent} if takes_task_dir(builder) else {}
    try:
        mdp = builder(horizon=spec.horizon, discount=spec.discount, **spec.params, **extra)
        if spec.objective != mdp.objective:
            mdp = dataclasses.replace(mdp, objective=spec.objective)
    except Exception as exc:  # any builder failure is the task file's error, named as such
        raise TaskFileError(f"{spec.source}: task {spec.id!r}: builder {spec.builder!r} "
                            f"failed: {type(exc).__name__}: {exc}") from exc
    rewards = mdp.R if mdp.R_next is None else (
        mdp.R_next.data if mdp.is_sparse else mdp.R_next)
    largest = float(np.max(np.abs(rewards), initial=0.0))
    if not largest <= MAX_REWARD:
        raise TaskFileError(f"{where}: rewards must be finite and at most {MAX_REWARD:g} in "
                            f"absolute value (found {largest:g})")
    task = Task(spec=spec, mdp=mdp)
    if not task.optimal_value - task.random_value > 1e-9:
        raise TaskFileError(f"{spec.source}: task {spec.id!r}: the optimal and uniform-random "
                            f"values are equal ({task.optimal_value!r}), so scores cannot be "
                            "normalised; every policy is optimal on this task")
    return task


def _check_sizes(where: str, horizon: int, episodes: int, sizes) -> None:
    """A horizon, an episode budget and dataset sizes a run can afford: checked where the
    task is declared and where an instance is drawn, not deep inside a run."""
    for name, value, most in [("horizon", horizon, MAX_HORIZON),
                              ("episodes", episodes, MAX_EPISODES),
                              *[("offline.dataset_episodes", n, MAX_EPISODES) for n in sizes]]:
        if not 1 <= value <= most:
            raise TaskFileError(f"{where}: field {name!r} must be in 1..{most:,}, got {value:,}")


def _parse_task(path: Path, index: int, table: dict) -> TaskSpec:
    where = f"{path}: task {table.get('id', f'#{index + 1}')!r}"
    _check_fields(where, table, REQUIRED, OPTIONAL)
    sizes, epsilons = _check_common(where, table)
    _check_sizes(where, table["horizon"], table["episodes"], sizes)
    _check_params(where, table["builder"], table)
    return TaskSpec(
        id=table["id"], description=table["description"], reference=table.get("reference", ""),
        tags=tuple(table["tags"]), builder=table["builder"],
        params=dict(table.get("params", {})), horizon=table["horizon"],
        discount=float(table.get("discount", 1.0)), objective=table.get("objective", "finite"),
        online_episodes=table["episodes"], offline_dataset_episodes=sizes,
        offline_epsilons=epsilons, source=Path(path),
    )


def _parse_family(path: Path, index: int, table: dict) -> FamilySpec:
    where = f"{path}: family {table.get('id', f'#{index + 1}')!r}"
    _check_fields(where, table, FAMILY_REQUIRED, FAMILY_OPTIONAL)
    sizes, epsilons = _check_common(where, table)
    params = dict(table.get("params", {}))
    for name, value in [("horizon", table["horizon"]), ("episodes", table["episodes"]),
                        *params.items()]:
        check_distribution(where, name, value)
    for name in ("horizon", "episodes"):
        value = table[name]
        low = value if not isinstance(value, dict) else next(iter(value.values()))
        if isinstance(low, list) and low and _is_number(low[0], int):
            low = min(low)
        if _is_number(low, int) and low < 1:
            raise TaskFileError(f"{where}: field {name!r} must be >= 1")
    min_gap = table.get("min_gap", DEFAULT_MIN_GAP)
    if not 0 < min_gap <= 1:
        raise TaskFileError(f"{where}: field 'min_gap' must be in (0, 1]")
    _check_params(where, table["builder"], table)
    return FamilySpec(
        id=table["id"], description=table["description"], reference=table.get("reference", ""),
        tags=tuple(table["tags"]), builder=table["builder"], params=params,
        horizon=table["horizon"], episodes=table["episodes"],
        discount=float(table.get("discount", 1.0)), objective=table.get("objective", "finite"),
        offline_dataset_episodes=sizes, offline_epsilons=epsilons, min_gap=float(min_gap),
        source=Path(path),
    )


def _parse_suite(path: Path, index: int, table: dict) -> SuiteSpec:
    where = f"{path}: suite {table.get('name', f'#{index + 1}')!r}"
    _check_fields(where, table, SUITE_FIELDS, {})
    if not SUITE_NAME.match(table["name"]):
        raise TaskFileError(f"{where}: field 'name' must be a lowercase word")
    if table["instance_seed"] < 0 or table["instances"] < 0 or table["seeds"] < 1:
        raise TaskFileError(f"{where}: 'instance_seed' and 'instances' must be >= 0, "
                            "'seeds' >= 1")
    return SuiteSpec(table["name"], table["description"], table["tasks"], table["families"],
                     table["instance_seed"], table["instances"], table["seeds"], Path(path))


def _check_common(where: str, table: dict) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The checks tasks and families share; returns the offline (sizes, epsilons)."""
    if not TASK_ID.match(table["id"]):
        raise TaskFileError(f"{where}: field 'id' must look like Family-vN (letters, digits, "
                            "'_' or '.', then -v and a version number)")
    if not all(isinstance(t, str) and t for t in table["tags"]):
        raise TaskFileError(f"{where}: field 'tags' must be a list of non-empty strings")
    try:
        resolve_builder(table["builder"])
    except UnknownBuilder as exc:
        known = _unknown_message("builder", table["builder"], sorted(BUILDERS))
        raise TaskFileError(f"{where}: field 'builder': {exc}. {known.split('. ', 1)[-1]} "
                            "(or package.module:function, or an entry point in the group "
                            "rlbench_icl.builders)") from None
    offline = table.get("offline", {})
    _check_fields(f"{where} [offline]", offline, {}, OFFLINE_FIELDS)
    sizes = offline.get("dataset_episodes", DEFAULT_DATASET_EPISODES)
    epsilons = offline.get("epsilons", DEFAULT_EPSILONS)
    checks = [
        ("discount", 0.0 <= table.get("discount", 1.0) <= 1.0, "must be in [0, 1]"),
        ("objective", table.get("objective", "finite") in OBJECTIVES,
         f"must be one of {OBJECTIVES}"),
        ("offline.dataset_episodes", len(sizes) == len(set(sizes)) >= 1 and all(
            _is_number(n, int) and n >= 1 for n in sizes),
         "must be a non-empty list of distinct integers >= 1"),
        ("offline.epsilons", len(epsilons) == len(set(epsilons)) >= 1 and all(
            _is_number(e, (int, float)) and 0 <= e <= 1 for e in epsilons),
         "must be a non-empty list of distinct numbers in [0, 1]"),
    ]
    for name, ok, rule in checks:
        if not ok:
            raise TaskFileError(f"{where}: field {name!r} {rule}")
    return tuple(sizes), tuple(map(float, epsilons))


def _is_number(value, types) -> bool:
    return isinstance(value, types) and not isinstance(value, bool)


def _check_params(where: str, builder: str, table: dict) -> None:
    try:
        inspect.signature(resolve_builder(builder)).bind(
            horizon=table["horizon"], discount=table.get("discount", 1.0),
            **table.get("params", {}))
    except TypeError as exc:
        raise TaskFileError(f"{where}: [params] do not fit builder {builder!r}: {exc}"
                            ) from None


def _check_fields(where: str, table: dict, required: dict, optional: dict) -> None:
    missing = sorted(set(required) - set(table))
    if missing:
        raise TaskFileError(f"{where}: missing field(s) {missing}")
    allowed = {**required, **optional}
    for key, value in table.items():
        if key not in allowed:
            raise TaskFileError(f"{where}: unknown field {key!r}; "
                                + _unknown_message("field", key, sorted(allowed)))
        if isinstance(value, bool) or not isinstance(value, allowed[key]):
            raise TaskFileError(f"{where}: field {key!r} has the wrong type "
                                f"({type(value).__name__}: {value!r})")


def _unknown_message(kind: str, name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Known: {', '.join(known)}"
