"""The offline datasets, out: what an export holds is byte for byte what the agent receives."""

import os
import subprocess
import sys

import numpy as np
import pytest

from rlbench_icl import Submission, __version__, default_registry
from rlbench_icl.cli import main
from rlbench_icl.datasets import (
    FIELDS,
    ExportError,
    export_minari,
    export_npz,
    load_datasets,
    load_metadata,
)
from rlbench_icl.protocols import OfflineSettings, protocol_settings, run_offline
from rlbench_icl.registry import load_registry

REGISTRY = default_registry()
SMALL = OfflineSettings(dataset_episodes=(6, 2), epsilons=(0.3, 1.0))


def recorder():
    """A submission that keeps every dataset it is given and answers uniformly."""
    seen = []

    def solve(info, dataset, rng):
        seen.append(dataset)
        return np.full((info.num_states, info.num_actions), 1.0 / info.num_actions)

    return Submission(name="recorder", version="0", solve_offline=solve), seen


def received(task, settings, seed):
    """``{(epsilon, size): Dataset}`` exactly as ``run_offline`` hands them to the agent."""
    submission, seen = recorder()
    cells = run_offline(task, submission, settings, seed)["cells"]
    assert len(seen) == len(cells)
    return {(c["epsilon"], c["dataset_episodes"]): d for c, d in zip(cells, seen, strict=True)}


def assert_identical(loaded, expected):
    assert list(loaded) == list(expected)  # the same cells, in the run's order
    for cell, dataset in expected.items():
        assert loaded[cell].num_episodes == dataset.num_episodes
        for field in FIELDS:
            got, want = getattr(loaded[cell], field), getattr(dataset, field)
            assert got.dtype == want.dtype and got.shape == want.shape, (cell, field)
            assert got.tobytes() == want.tobytes(), (cell, field)


@pytest.mark.parametrize("task_id", ["FrozenLake4x4-v0", "BernoulliBandit-v0-s7-i0"])
def test_the_npz_export_is_what_the_agent_receives(tmp_path, task_id):
    task = REGISTRY.make(task_id)
    path = export_npz(task, 3, tmp_path / "d.npz")  # the task's declared settings
    expected = received(task, protocol_settings(task, "offline"), 3)
    assert_identical(load_datasets(path), expected)
    # nested as the protocol says: a smaller size is the first episodes of the largest
    assert len(expected) == 9 and expected[(0.5, 5)].num_episodes == 5
    assert expected[(0.5, 500)].states[:len(expected[(0.5, 5)])].tobytes() \
        == expected[(0.5, 5)].states.tobytes()


def test_the_npz_file_reads_without_pickle_and_names_its_run(tmp_path):
    task = REGISTRY.make("RiverSwim6-v0")
    path = export_npz(task, 1, tmp_path / "d.npz", SMALL)
    with np.load(path, allow_pickle=False) as npz:
        assert npz["task_id"].item() == "RiverSwim6-v0"
        assert npz["eps0p3-n6/rewards"].dtype == np.float64
        assert npz["eps1p0-n2/terminated"].dtype == np.bool_
        assert all(npz[k].dtype != object for k in npz.files)
    assert load_metadata(path) == {
        "schema": "rlbench-icl/datasets/1", "task_id": "RiverSwim6-v0", "task_version": 0,
        "task_digest": task.digest, "seed": 1, "harness_version": __version__,
        "cells": [(0.3, 2), (0.3, 6), (1.0, 2), (1.0, 6)]}


def test_an_export_is_a_pure_function_of_task_settings_and_seed(tmp_path):
    task = REGISTRY.make("FrozenLake4x4-v0")
    a = export_npz(task, 0, tmp_path / "a.npz", SMALL).read_bytes()
    b = export_npz(task, 0, tmp_path / "b.npz", SMALL).read_bytes()
    c = export_npz(task, 1, tmp_path / "c.npz", SMALL).read_bytes()
    assert a == b and a != c


def _failing_after_one_cell(task, settings, seed):
    from rlbench_icl.protocols import protocol_datasets

    yield next(protocol_datasets(task, settings, seed))
    raise RuntimeError("interrupted mid-export")


def test_a_failed_npz_export_leaves_no_partial_file(tmp_path, monkeypatch):
    task = REGISTRY.make("FrozenLake4x4-v0")
    path = export_npz(task, 0, tmp_path / "d.npz", SMALL)
    before = path.read_bytes()
    monkeypatch.setattr("rlbench_icl.datasets.protocol_datasets", _failing_after_one_cell)
    with pytest.raises(RuntimeError, match="mid-export"):
        export_npz(task, 1, path, SMALL)
    with pytest.raises(RuntimeError, match="mid-export"):
        export_npz(task, 1, tmp_path / "new.npz", SMALL)
    monkeypatch.undo()

    def no_disk_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_disk_space)  # the last step of the atomic write
    with pytest.raises(OSError, match="No space"):
        export_npz(task, 1, path, SMALL)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the previous export, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]  # no temp, no new.npz


def test_a_file_that_is_not_an_export_is_one_clear_error(tmp_path):
    np.savez(tmp_path / "other.npz", states=np.arange(3))
    with pytest.raises(ExportError, match="schema None is not 'rlbench-icl/datasets/1'"):
        load_datasets(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ExportError, match="not a dataset export"):
        load_datasets(tmp_path / "junk.npz")


def test_the_command_exports_a_private_task_and_a_family_instance(tmp_path, tiny_tasks,
                                                                  capsys):
    out = tmp_path / "tiny.npz"
    assert main(["datasets", "export", "--task", "TinyChain-v0", "--seed", "2", "--out",
                 str(out), "--task-path", str(tiny_tasks)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    task = load_registry([tiny_tasks]).make("TinyChain-v0")
    assert_identical(load_datasets(out), received(task, protocol_settings(task, "offline"), 2))

    out = tmp_path / "instance.npz"
    assert main(["datasets", "export", "--task", "BernoulliBandit-v0", "--instance-seed", "7",
                 "--instances", "1", "--out", str(out)]) == 0
    assert load_metadata(out)["task_id"] == "BernoulliBandit-v0-s7-i0" and load_metadata(
        out)["seed"] == 0


@pytest.mark.parametrize(("task", "message"), [
    ("FrozenLak4x4-v0", "Did you mean 'FrozenLake4x4-v0'"),
    ("quick", "--task quick selects 3 tasks"),
])
def test_a_bad_task_is_one_line_and_exit_2(tmp_path, capsys, task, message):
    out = tmp_path / "d.npz"
    assert main(["datasets", "export", "--task", task, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlbench-icl datasets export: error: ")
    assert message in err[0] and not out.exists()


# --- Minari ---------------------------------------------------------------------------------

BLOCK_MINARI = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] == 'minari':
            raise ModuleNotFoundError(f'No module named {name!r}', name='minari')
sys.meta_path.insert(0, Absent())
from rlbench_icl.cli import main
"""


def test_without_minari_the_command_says_how_to_install_it(tmp_path):
    code = BLOCK_MINARI + ("sys.exit(main(['datasets', 'export', '--task', 'Bandit10-v0', "
                           "'--format', 'minari', '--out', 'm']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "needs minari: install it with pip install -e '.[minari]'" in lines[0]


def test_the_minari_export_is_what_the_agent_receives(tmp_path, monkeypatch):
    minari = pytest.importorskip("minari")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # nothing may go to ~/.minari
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    task = REGISTRY.make("FrozenLake4x4-v0")
    root = tmp_path / "root"
    ids = export_minari(task, 4, root, SMALL)
    assert ids[0] == "rlbench-icl/FrozenLake4x4-v0/seed-4/eps0p3-n2-v0" and len(ids) == 4
    assert "MINARI_DATASETS_PATH" not in os.environ and not (tmp_path / "home").exists()

    namespace = root / "rlbench-icl" / "FrozenLake4x4-v0" / "seed-4"
    assert_identical(load_datasets(namespace), received(task, SMALL, 4))
    assert load_metadata(namespace)["task_digest"] == task.digest

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    dataset = minari.load_dataset(ids[1])  # eps 0.3, 6 episodes, read by minari itself
    assert dataset.total_episodes == 6
    for episode in dataset.iterate_episodes():
        # an episode that did not reach a terminal state was cut by the horizon H = 100
        assert episode.terminations[-1] or (episode.truncations[-1] and len(episode) == 100)
        assert not episode.truncations[:-1].any() and len(episode.observations) == len(
            episode) + 1
    env = dataset.recover_environment()
    assert env.unwrapped.task.digest == task.digest
    assert dataset.storage.metadata["ref_max_score"] == pytest.approx(task.optimal_value)
    assert dataset.storage.metadata["ref_min_score"] == pytest.approx(task.random_value)


def test_a_minari_export_replaces_an_old_one_whole(tmp_path, monkeypatch, tiny_tasks, capsys):
    minari = pytest.importorskip("minari")
    task = load_registry([tiny_tasks]).make("TinyChain-v0")  # private: no gymnasium spec
    root = tmp_path / "root"
    namespace = root / "rlbench-icl" / "TinyChain-v0" / "seed-0"
    assert main(["datasets", "export", "--task", "TinyChain-v0", "--format", "minari",
                 "--out", str(root), "--task-path", str(tiny_tasks)]) == 0
    assert "  rlbench-icl/TinyChain-v0/seed-0/eps0p1-n4-v0" in capsys.readouterr().out
    first = load_datasets(namespace)
    assert_identical(first, received(task, protocol_settings(task, "offline"), 0))
    chain = minari.MinariDataset(namespace / "eps1p0-n4-v0" / "data")
    assert chain.spec.env_spec is None and chain.total_episodes == 4
    for episode in chain.iterate_episodes():  # a chain has no terminal state: cut at H = 6
        assert len(episode) == 6 and not episode.terminations.any()
        assert episode.truncations.tolist() == [False] * 5 + [True]

    monkeypatch.setattr("rlbench_icl.datasets.protocol_datasets", _failing_after_one_cell)
    with pytest.raises(RuntimeError, match="mid-export"):
        export_minari(task, 0, root, OfflineSettings(dataset_episodes=(3,), epsilons=(0.0,)))
    monkeypatch.undo()
    assert_identical(load_datasets(namespace), first)  # the old export, untouched
    assert [p.name for p in root.iterdir()] == ["rlbench-icl"]  # no scratch left behind

    export_minari(task, 0, root, OfflineSettings(dataset_episodes=(3,), epsilons=(0.0,)))
    assert list(load_datasets(namespace)) == [(0.0, 3)]  # replaced, not merged


def test_a_minari_export_to_a_relative_directory_lands_there(tmp_path, monkeypatch,
                                                             tiny_tasks, capsys):
    """``--out mdir`` from the current directory, as a user types it (minari resolves
    paths from its own root, so a relative root once doubled itself and the export
    failed)."""
    pytest.importorskip("minari")
    monkeypatch.chdir(tmp_path)
    assert main(["datasets", "export", "--task", "TinyChain-v0", "--format", "minari",
                 "--out", "mdir", "--task-path", str(tiny_tasks)]) == 0
    namespace = tmp_path / "mdir" / "rlbench-icl" / "TinyChain-v0" / "seed-0"
    task = load_registry([tiny_tasks]).make("TinyChain-v0")
    assert_identical(load_datasets(namespace),
                     received(task, protocol_settings(task, "offline"), 0))
    assert [p.name for p in (tmp_path / "mdir").iterdir()] == ["rlbench-icl"]

    monkeypatch.setattr("rlbench_icl.datasets.protocol_datasets", _failing_after_one_cell)
    with pytest.raises(RuntimeError, match="mid-export"):  # into directories it must make
        export_minari(task, 0, "new/deeper", SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mdir"]  # it made none that stay
