"""The same grid through a real Dask cluster gives the same files as local processes, and
an agent that kills its process fails only its own runs there too."""

from pathlib import Path

import pytest
from distributed import LocalCluster

from rlbench_icl.backends import BackendError, execution_backend
from rlbench_icl.cli import main

GRID = ["--agent", "random", "--tasks", "RiverSwim6-v0,Bandit10-v0", "--seeds", "2",
        "--quiet"]


def files(directory):
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("seed-*.json"))}


@pytest.fixture(scope="module")
def local_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    assert main(["run", *GRID, "--jobs", "1", "--out", str(out)]) == 0
    return files(out)


def test_dask_scheduler_gives_identical_files(tmp_path, local_files):
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert main(["run", *GRID, "--backend", "dask", "--scheduler",
                     cluster.scheduler_address, "--out", str(tmp_path)]) == 0
    assert files(tmp_path) == local_files and len(local_files) == 8


def test_dask_without_scheduler_starts_a_local_cluster(tmp_path, local_files):
    assert main(["run", *GRID, "--backend", "dask", "--jobs", "2", "--out", str(tmp_path)]) == 0
    assert files(tmp_path) == local_files


def test_ray_gives_identical_files(tmp_path, local_files):
    """Ray is an optional extra (heavy for CI): this runs where it is installed."""
    pytest.importorskip("ray.util.joblib")
    assert main(["run", *GRID, "--backend", "ray", "--jobs", "2", "--out", str(tmp_path)]) == 0
    assert files(tmp_path) == local_files


@pytest.mark.parametrize("mode, message", [
    ([], b"the agent process exited with code 3"),
    (["--in-process"], b"the worker process died (exit code 3)"),
])
def test_a_killed_process_on_dask_fails_only_its_runs(tmp_path, capsys, mode, message):
    """Joblib's Dask backend hangs when a worker dies: a sealed agent dies in its own
    process, and in-process runs are isolated in a process each."""
    faulty = Path(__file__).with_name("faulty_submissions.py")
    code = main(["run", "--agent", f"{faulty}::faulty-exits", "--tasks",
                 "RiverSwim6-v0,FrozenLake4x4-v0", "--seeds", "2", "--episodes", "3",
                 "--protocol", "online", "--backend", "dask", "--jobs", "2", "--quiet",
                 "--out", str(tmp_path), *mode])
    assert code == 1 and "2 runs failed" in capsys.readouterr().err
    found = files(tmp_path)
    assert len(found) == 4
    for name, data in found.items():
        assert (message in data) == ("FrozenLake" in name), name


def test_a_hung_agent_on_dask_times_out_and_the_grid_completes(tmp_path, capsys):
    faulty = Path(__file__).with_name("faulty_submissions.py")
    code = main(["run", "--agent", f"{faulty}::faulty-hangs", "--tasks",
                 "RiverSwim6-v0,FrozenLake4x4-v0", "--seeds", "1", "--episodes", "3",
                 "--protocol", "online", "--backend", "dask", "--jobs", "2", "--timeout", "5",
                 "--quiet", "--out", str(tmp_path)])
    assert code == 1 and "1 runs failed" in capsys.readouterr().err
    found = files(tmp_path)
    assert len(found) == 2
    for name, data in found.items():
        assert (b"time limit of 5.0 s" in data) == ("FrozenLake" in name), name


def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    code = main(["run", *GRID, "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9",
                 "--out", str(tmp_path)])
    assert code == 2 and "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_unknown_backend_is_refused():
    with pytest.raises(BackendError, match="unknown backend"):
        with execution_backend("slurm", 1):
            pass
