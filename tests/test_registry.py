import textwrap

import pytest

from rlbench_icl import TaskFileError, default_registry, load_registry
from rlbench_icl.registry import TASK_PATH_ENV, Registry, read_task_file

VALID = """
[[task]]
id = "MyChain-v3"
description = "a private chain"
tags = ["private"]
builder = "riverswim"
horizon = 10
episodes = 20
[task.params]
num_states = 4
"""


def write(tmp_path, text, name="tasks.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_private_task_directory_joins_the_registry(tmp_path):
    write(tmp_path, VALID)
    registry = load_registry([tmp_path])
    assert "MyChain-v3" in registry.ids and "FrozenLake4x4-v0" in registry.ids
    spec = registry.spec("MyChain-v3")
    assert spec.version == 3 and spec.offline_epsilons == (1.0, 0.5, 0.1)
    assert registry.make("MyChain-v3").mdp.num_states == 4
    assert registry.select("private") == ["MyChain-v3"]


def test_environment_variable_adds_task_directories(tmp_path, monkeypatch):
    write(tmp_path, VALID)
    monkeypatch.setenv(TASK_PATH_ENV, str(tmp_path))
    assert "MyChain-v3" in load_registry().ids


@pytest.mark.parametrize("edit, message", [
    (("horizon = 10", 'horizon = "ten"'), "field 'horizon' has the wrong type"),
    (("horizon = 10", "horizon = 0"), "field 'horizon' must be in 1..100,000, got 0"),
    (("horizon = 10\n", ""), r"missing field\(s\) \['horizon'\]"),
    (('builder = "riverswim"', 'builder = "riverswin"'),
     "unknown builder 'riverswin'. Did you mean 'riverswim'"),
    (('id = "MyChain-v3"', 'id = "../escape"'), "field 'id' must look like Family-vN"),
    (("episodes = 20", "episodes = 20\nepisdes = 3"), "unknown field 'episdes'"),
    (("num_states = 4", "num_states = 4\nwidth = 3"), r"\[params\] do not fit builder"),
    (("episodes = 20", "episodes = 20\ndiscount = 2.0"), "field 'discount' must be in"),
    (("[task.params]", "[task.offline]\nepsilons = ['a']\n[task.params]"),
     "field 'offline.epsilons' must be a non-empty list of distinct numbers"),
    (("[task.params]", "[task.offline]\ndataset_episodes = []\n[task.params]"),
     "field 'offline.dataset_episodes' must be a non-empty list"),
    (("[[task]]", "[[task]\n"), "cannot read task file"),
])
def test_malformed_task_file_names_file_task_and_field(tmp_path, edit, message):
    path = write(tmp_path, VALID.replace(*edit))
    with pytest.raises(TaskFileError, match=message) as info:
        read_task_file(path)
    assert str(path) in str(info.value)


def test_builder_failure_names_file_and_task(tmp_path):
    write(tmp_path, VALID.replace("num_states = 4", "num_states = 1"))
    registry = load_registry([tmp_path])
    with pytest.raises(TaskFileError, match="MyChain-v3.*riverswim.*num_states >= 3"):
        registry.make("MyChain-v3")


def test_a_task_where_every_policy_is_optimal_is_refused(tmp_path):
    write(tmp_path, VALID.replace('builder = "riverswim"', 'builder = "bernoulli_bandit"')
          .replace("num_states = 4", "means = [0.5, 0.5]"))
    with pytest.raises(TaskFileError, match="MyChain-v3.*values are equal"):
        load_registry([tmp_path]).make("MyChain-v3")


def test_duplicate_ids_raise(tmp_path):
    write(tmp_path, VALID, "a.toml")
    write(tmp_path, VALID, "b.toml")
    with pytest.raises(TaskFileError, match="'MyChain-v3' is already declared in .*a.toml"):
        load_registry([tmp_path])


def test_unknown_selector_suggests_the_nearest():
    registry = load_registry()
    with pytest.raises(KeyError, match="Did you mean 'FrozenLake4x4-v0'"):
        registry.select("FrozenLake4x4-v1")
    assert registry.select("quick,RiverSwim6-v0") == registry.select("quick")


@pytest.mark.parametrize("argv, why", [
    (["run", "--agent", "random", "--tasks", ""], "task selection '' selects no task:"),
    (["run", "--agent", "random", "--tasks", " , "], "task selection ' , ' selects no task:"),
    (["run", "--agent", "random", "--tasks", "Maze-v0", "--instances", "0"],
     "task selection 'Maze-v0' selects no task with 0 instances:"),
    (["tasks", "--tasks", "test", "--instances", "0"],
     "task selection 'test' selects no task with 0 instances:"),
])
def test_a_selection_of_nothing_is_an_error_not_an_empty_table(tmp_path, capsys, argv, why):
    """A typo'd or empty selection once ran nothing and exited 0 with an empty table."""
    from rlbench_icl.cli import main

    out = ["--out", str(tmp_path / "results"), "--jobs", "1"] if argv[0] == "run" else []
    assert main(argv + out) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"rlbench-icl {argv[0]}: error: {why} name task ids, suites "
                          "(dev, test)") and len(err.splitlines()) == 1
    assert not (tmp_path / "results").exists()
    assert default_registry().select("") == []  # the library's select itself stays total


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(TaskFileError, match="does not exist"):
        load_registry([tmp_path / "nope"])


def test_empty_registry_rejects_unknown_ids():
    with pytest.raises(KeyError, match="unknown task id"):
        Registry().spec("X-v0")


def test_the_ranking_grid_is_a_suites_tasks_and_declared_seeds(tmp_path):
    from rlbench_icl.runner.summary import missing_for_ranking

    registry = default_registry()
    tasks, seeds = registry.ranking_grid("test")
    assert tasks == registry.select("test") and seeds == registry.suites["test"].seeds == 3
    assert registry.ranking_grid("full", default_seeds=7) == (registry.select("full"), 7)
    missing = missing_for_ranking(registry, tmp_path, "ucbvi", ["online"])
    assert {m["suite"] for m in missing} == set(registry.suites)
    test = next(m for m in missing if m["suite"] == "test")
    assert test["missing"] == test["of"] == len(tasks) * 3
    assert test["command"] == "--tasks test --seeds 3 --protocol online"
