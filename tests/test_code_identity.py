"""Issue 21: a result records a hash of the code that produced it, and `run` never reuses
(or silently overwrites) a stored run from other code under the same name and version."""

import textwrap

from rlbench_icl import store
from rlbench_icl.cli import main

AGENT = """
import numpy as np
from rlbench_icl import Submission

class Agent:
    def __init__(self, info, rng):
        self.info, self.rng = info, rng
    def act(self, state, step):
        return {action}
    def observe(self, *transition):
        pass
    def end_episode(self):
        pass

SUBMISSION = Submission(name="edited", version="1", make_online_agent=Agent,
                        files=("weights.txt",))
"""


def _write(path, action="0", weights="w1"):
    path.write_text(textwrap.dedent(AGENT.format(action=action)))
    path.with_name("weights.txt").write_text(weights)


def _run(agent, out, *extra):
    return main(["run", "--agent", str(agent), "--tasks", "Bandit10-v0", "--seeds", "2",
                 "--episodes", "5", "--jobs", "1", "--quiet", "--out", str(out), *extra])


def test_an_edit_without_a_new_version_is_refused_in_one_line(tmp_path, capsys):
    agent, out = tmp_path / "edited.py", tmp_path / "results"
    _write(agent)
    assert _run(agent, out) == 0
    record = store.read_result(out / "edited/online/Bandit10-v0/seed-0.json")
    assert set(record["code"]["files"]) == {"edited.py", "weights.txt"}
    assert _run(agent, out) == 0 and "2 reused" in capsys.readouterr().out

    _write(agent, action="1")  # the source changes, the version does not
    assert _run(agent, out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "come from other code: edited.py changed" in err and "--force" in err
    assert store.read_result(out / "edited/online/Bandit10-v0/seed-0.json") == record

    _write(agent, action="0", weights="w2")  # a declared file counts too
    assert _run(agent, out) == 2 and "weights.txt changed" in capsys.readouterr().err
    assert _run(agent, out, "--force") == 0
    assert store.read_result(out / "edited/online/Bandit10-v0/seed-0.json")["code"] != \
        record["code"]


def test_another_file_with_the_same_name_and_version_is_refused(tmp_path, capsys):
    out = tmp_path / "results"
    first, second = tmp_path / "a" / "edited.py", tmp_path / "b" / "edited.py"
    first.parent.mkdir()
    second.parent.mkdir()
    _write(first)
    _write(second, action="1")
    assert _run(first, out) == 0
    assert _run(second, out) == 2
    assert "edited.py changed" in capsys.readouterr().err
