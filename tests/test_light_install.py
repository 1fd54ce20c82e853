"""Without torch (the core install), everything but the foundation model works, and the
foundation model says in one line how to install it."""

import os
import subprocess
import sys

import pytest

# A finder that makes the extras' packages absent, as on a core install.
BLOCK_EXTRAS = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('torch', 'safetensors', 'matplotlib'):
            raise ModuleNotFoundError(f'No module named {name!r}', name=name.split('.')[0])
sys.meta_path.insert(0, Absent())
"""


def cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    """The CLI in a Python without torch: the finder is installed by a sitecustomize module,
    so that every process the CLI starts (sealed agent processes too) lacks torch."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCK_EXTRAS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    code = f"import sys; from rlbench_icl.cli import main; sys.exit(main({list(args)!r}))\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env=env)


def test_the_core_runs_without_torch(tmp_path):
    out = cli("run", "--agent", "random", "--tasks", "Bandit10-v0", "--seeds", "1",
              "--episodes", "3", "--jobs", "1", "--quiet", "--out", "r", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    plan = cli("run", "--agent", "rmax-plan", "--tasks", "Bandit10-v0", "--seeds", "1",
               "--episodes", "3", "--jobs", "1", "--quiet", "--out", "r", tmp_path=tmp_path)
    assert plan.returncode == 0, plan.stderr  # the planner inputs need no torch
    agents = cli("agents", tmp_path=tmp_path)
    assert agents.returncode == 0 and "ucbvi" in agents.stdout
    assert "gnn_fm.py needs torch: install it with pip install -e '.[fm]'" in agents.stderr


@pytest.mark.parametrize("args", [
    ("run", "--agent", "gnn-fm", "--tasks", "Bandit10-v0"),
    ("train-fm", "--config", "c.toml", "--out", "o"),
])
def test_the_foundation_model_says_how_to_install_it(tmp_path, args):
    out = cli(*args, tmp_path=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install -e '.[fm]'" in lines[0], out.stderr


def test_the_leaderboard_without_matplotlib_writes_tables_and_says_how_to_add_figures(
        tmp_path):
    run = cli("run", "--agent", "random", "--tasks", "Bandit10-v0", "--seeds", "2",
              "--protocol", "online", "--jobs", "1", "--quiet", "--out", "r",
              tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    board = cli("leaderboard", "--results", "r", "--out", "lb", "--suite", "Bandit10-v0",
                "--seeds", "2", "--test", "", "--resamples", "100", "--quiet", "--html", "lb",
                tmp_path=tmp_path)
    assert board.returncode == 0, board.stderr
    assert board.stderr.strip() == ("matplotlib is not installed: writing the tables and the "
                                    "site without figures (add them with pip install -e "
                                    "'.[plots]')")
    assert (tmp_path / "lb" / "online_leaderboard.csv").is_file()
    assert (tmp_path / "lb" / "index.html").is_file()
    assert not (tmp_path / "lb" / "figures").exists()
