"""Private tasks of any shape: ``arrays`` (.npz beside the task file) and builders of one's
own (``package.module:function``), resolved in every worker: loky and a real Dask cluster."""

import textwrap

import numpy as np
import pytest
from distributed import LocalCluster
from joblib.externals.loky import get_reusable_executor

from rlbench_icl import TaskFileError, load_registry
from rlbench_icl.cli import main

TASKS = """
[[task]]
id = "MyArrays-v0"
description = "a two-state MDP from arrays"
tags = ["private"]
builder = "arrays"
horizon = 5
episodes = 4
[task.params]
file = "data/two_state.npz"

[[task]]
id = "MyBuilder-v0"
description = "a chain from a builder of my own"
tags = ["private"]
builder = "my_builders:corridor"
horizon = 6
episodes = 4
[task.params]
length = 4
"""

MODULE = '''
import numpy as np
from rlbench_icl import TabularMDP


def corridor(*, length, horizon, discount=1.0):
    """Move right (action 1) to the end, which pays 1 and ends the episode."""
    P = np.zeros((length, 2, length))
    for s in range(length - 1):
        P[s, 0, max(s - 1, 0)] = 1.0
        P[s, 1, s + 1] = 1.0
    P[-1, :, -1] = 1.0
    R = np.zeros((length, 2))
    R[length - 2, 1] = 1.0
    terminal = np.eye(length, dtype=bool)[-1]
    return TabularMDP(P=P, R=R, mu0=np.eye(length)[0], horizon=horizon, discount=discount,
                      terminal=terminal)
'''


@pytest.fixture
def private(tmp_path, monkeypatch):
    """A task directory with an .npz task and a builder module on PYTHONPATH (as a user's
    own package would be installed on every worker)."""
    tasks, code = tmp_path / "tasks", tmp_path / "code"
    (tasks / "data").mkdir(parents=True)
    code.mkdir()
    (tasks / "mine.toml").write_text(TASKS)
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    np.savez(tasks / "data" / "two_state.npz", P=P, R=np.array([[0.2, 0.0], [1.0, 0.5]]),
             mu0=np.array([1.0, 0.0]), reward_noise=np.array("gaussian"),
             reward_std=np.array(0.3))
    (code / "my_builders.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.setenv("PYTHONPATH", str(code))
    # loky keeps its workers between calls: start fresh ones that see PYTHONPATH, as a
    # new `rlbench-icl run` process would
    get_reusable_executor().shutdown(wait=True)
    yield tasks
    get_reusable_executor().shutdown(wait=True)


def test_arrays_and_own_builders_build_with_exact_values(private):
    registry = load_registry([private])
    arrays = registry.make("MyArrays-v0")
    assert arrays.mdp.reward_noise == "gaussian" and arrays.mdp.reward_std == 0.3
    assert arrays.optimal_value == pytest.approx(4.0)  # 0 then four steps of 1 in state 1
    assert registry.make("MyBuilder-v0").optimal_value == pytest.approx(1.0)


def _run(private, out, *extra):
    return main(["run", "--agent", "random", "--tasks", "private", "--seeds", "2",
                 "--episodes", "3", "--task-path", str(private), "--out", str(out),
                 "--quiet", "--protocol", "online", *extra])


def _files(directory):
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("seed-*.json"))}


def test_private_tasks_run_in_loky_and_dask_workers_with_the_same_files(private, tmp_path):
    assert _run(private, tmp_path / "one", "--jobs", "1") == 0
    assert _run(private, tmp_path / "two", "--jobs", "2") == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert _run(private, tmp_path / "dask", "--backend", "dask", "--scheduler",
                    cluster.scheduler_address) == 0
    one = _files(tmp_path / "one")
    assert len(one) == 4 and one == _files(tmp_path / "two") == _files(tmp_path / "dask")


@pytest.mark.parametrize("change, message", [
    (("my_builders:corridor", "my_builders:nothing"), "cannot import builder"),
    (("my_builders:corridor", "no_such_builder"), "unknown builder 'no_such_builder'"),
    (('"data/two_state.npz"', '"data/missing.npz"'), "cannot read arrays"),
])
def test_a_bad_private_task_names_the_file_task_and_cause(private, change, message):
    path = private / "mine.toml"
    path.write_text(path.read_text().replace(*change))
    with pytest.raises(TaskFileError, match=message) as info:
        registry = load_registry([private])
        for task_id in registry.select("all"):
            registry.make(task_id)
    assert "mine.toml" in str(info.value)
