"""Bad names never leave the results directory; nothing is unpickled; metadata is escaped."""

import json
import os
import pickle
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import torch

from rlbench_icl import Submission, default_registry
from rlbench_icl.errors import ConfigError
from rlbench_icl.fm.train import TrainConfig, _resume, build_model, load_model
from rlbench_icl.leaderboard import build_leaderboard, load_results
from rlbench_icl.registry import TaskFileError, load_registry
from rlbench_icl.scoring import BootstrapConfig
from rlbench_icl.store import ResultFileError, read_result, result_path

ODD = ["../escape", "..", ".", "a/b", "a\\b", "/abs", "", "x\x00y", "~user", "-rf", " sp"]


@pytest.mark.parametrize("name", ODD)
def test_odd_submission_names_are_refused(name):
    with pytest.raises(ValueError, match="name"):
        Submission(name=name, version="1", make_online_agent=lambda info, rng: None)


@pytest.mark.parametrize("part", ODD)
def test_result_paths_never_leave_the_directory(part, tmp_path):
    for args in ((part, "online", "Task-v0", 0), ("ok", part, "Task-v0", 0),
                 ("ok", "online", part, 0)):
        with pytest.raises(ResultFileError, match="cannot name a result file"):
            result_path(tmp_path, *args)
    with pytest.raises(ResultFileError, match="seed"):
        result_path(tmp_path, "ok", "online", "Task-v0", -1)


@pytest.mark.parametrize("task_id", ["../../etc/passwd-v0", "a/b-v0", "..-v0", "Tiny-v0/.."])
def test_task_ids_with_separators_are_refused(task_id, tmp_path):
    (tmp_path / "t.toml").write_text(textwrap.dedent(f"""
        [[task]]
        id = {json.dumps(task_id)}
        description = "x"
        tags = ["x"]
        builder = "riverswim"
        horizon = 5
        episodes = 4
        [task.params]
        num_states = 3
        """))
    with pytest.raises(TaskFileError, match="Family-vN"):
        load_registry([tmp_path])


def test_a_record_claiming_an_escaping_name_is_refused_by_name(tmp_path):
    """A stored file whose content names ``../x`` is refused, and nothing is written."""
    from rlbench_icl.cli import main

    out = tmp_path / "results"
    assert main(["run", "--agent", "random", "--tasks", "Bandit10-v0", "--seeds", "1",
                 "--episodes", "5", "--protocol", "online", "--quiet", "--jobs", "1",
                 "--out", str(out)]) == 0
    path = next(out.rglob("seed-0.json"))
    record = json.loads(path.read_text())
    record["submission"]["name"] = "../../evil"
    path.write_text(json.dumps(record))
    results = load_results(out, default_registry())
    assert results.records == {}
    assert len(results.refused) == 1 and "cannot name a result file" in results.refused[0][1]
    assert not (tmp_path / "evil").exists()


class Boom:
    """Unpickling this runs ``os.system``: a loader that unpickles would create the marker."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_results_are_not_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "seed-0.json"
    path.write_bytes(pickle.dumps(Boom(marker)))
    with pytest.raises(ResultFileError, match="unreadable"):
        read_result(path)
    assert not marker.exists()


def test_training_checkpoints_are_loaded_without_executing_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": Boom(marker)}, path)  # a pickle that would run code if trusted
    config = TrainConfig()
    model = build_model(config.model, 0)
    optimiser = torch.optim.AdamW(model.parameters())
    with pytest.raises(ConfigError, match="not a checkpoint written by train-fm"):
        _resume(path, model, optimiser)
    assert not marker.exists()


def test_exported_models_are_safetensors_only(tmp_path):
    marker = tmp_path / "pwned"
    shipped = Path(__file__).resolve().parent.parent / "submissions" / "gnn_fm_checkpoint"
    shutil.copy(shipped / "config.json", tmp_path / "config.json")
    (tmp_path / "model.safetensors").write_bytes(pickle.dumps(Boom(marker)))
    with pytest.raises(ConfigError, match="not a model exported by train-fm"):
        load_model(tmp_path)
    assert not marker.exists()


def test_no_module_unpickles():
    """The package never calls pickle.load(s) or an unrestricted torch.load."""
    package = Path(__file__).resolve().parent.parent / "rlbench_icl"
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "pickle.load" not in text, path
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, (path, line)


def test_untrusted_text_is_escaped_in_the_rendered_leaderboard(tmp_path):
    """A harness version and a directory name crafted as HTML/Markdown stay inert."""
    from rlbench_icl.cli import main

    out = tmp_path / "results"
    assert main(["run", "--agent", "random", "--tasks", "quick", "--seeds", "1",
                 "--quiet", "--jobs", "1", "--out", str(out)]) == 0
    evil = "<img src=x onerror=alert(1)>|[link](http://e)"
    for path in out.rglob("seed-*.json"):
        record = json.loads(path.read_text())
        record["harness_version"] = evil
        path.write_text(json.dumps(record))
    odd_dir = out / "<b>x|y</b>" / "online" / "Bandit10-v0"
    odd_dir.mkdir(parents=True)
    (odd_dir / "seed-0.json").write_text("{")
    build_leaderboard(out, tmp_path / "board", default_registry(), BootstrapConfig(resamples=50),
                      suite_tag="quick", seeds=1)
    board = (tmp_path / "board" / "README.md").read_text()
    assert not re.search(r"(?<!\\)<(img|/?b>)", board), "an unescaped tag"
    assert "](http" not in board
    assert "\\<img src=x onerror=alert\\(1\\)\\>\\|" in board
    assert "\\<b\\>x\\|y\\</b\\>" in board
