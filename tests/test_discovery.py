import numpy as np
import pytest

from rlbench_icl import AgentCheckError, Submission, check_agent
from rlbench_icl.cli import main
from rlbench_icl.discovery import SubmissionError, available, load, resolve

SHIPPED = sorted(available())


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_submission_passes_the_check(name):
    submission = load(available()[name])
    assert submission.name == name and submission.description
    check_agent(submission)


def test_unknown_name_suggests_the_nearest():
    with pytest.raises(SubmissionError, match="Did you mean 'random'"):
        resolve("randm")


def test_module_attribute_references(tmp_path, monkeypatch):
    (tmp_path / "my_pkg.py").write_text(
        "from rlbench_icl import Submission\n"
        "import numpy as np\n"
        "def solve(info, data, rng):\n"
        "    return np.full((info.num_states, info.num_actions), 1 / info.num_actions)\n"
        "def factory():\n"
        "    return Submission(name='pkg-agent', version='2', solve_offline=solve)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ref, sub = resolve("my_pkg:factory")
    assert ref == "my_pkg:factory" and sub.protocols == ("offline",)
    with pytest.raises(SubmissionError, match="cannot import"):
        resolve("my_pkg:nothing")


class Unseeded:
    def __init__(self, info, rng):
        self.A = info.num_actions

    def act(self, state, step):
        return int(np.random.default_rng().integers(self.A))  # fresh entropy: not repeatable

    def observe(self, *transition):
        pass

    def end_episode(self):
        pass


class NoObserve:
    def __init__(self, info, rng):
        pass

    def act(self, state, step):
        return 0


def test_check_agent_rejects_unseeded_randomness_and_missing_methods():
    with pytest.raises(AgentCheckError, match="same seed gave different online runs"):
        check_agent(Submission(name="unseeded", version="0", make_online_agent=Unseeded))
    with pytest.raises(AgentCheckError, match=r"lacks \['observe', 'end_episode'\]"):
        check_agent(Submission(name="no-observe", version="0", make_online_agent=NoObserve))


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="Bad/Name", version="1", solve_offline=print), "must match"),
    (dict(name="../up", version="1", solve_offline=print), "must match"),
    (dict(name="ok", version="", solve_offline=print), "version"),
    (dict(name="ok", version="1"), "give make_online_agent"),
])
def test_submission_metadata_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Submission(**kwargs)


def test_agents_command_lists_submissions(capsys):
    assert main(["agents"]) == 0
    assert "random" in capsys.readouterr().out


def test_cli_rejects_a_submission_that_fails_the_check(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text("from rlbench_icl import Submission\n"
                    "class A:\n"
                    "    def __init__(self, info, rng): pass\n"
                    "    def act(self, s, h): return 99\n"
                    "    def observe(self, *t): pass\n"
                    "    def end_episode(self): pass\n"
                    "SUBMISSION = Submission(name='broken', version='0', make_online_agent=A)\n")
    assert main(["run", "--agent", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "broken failed the conformance check" in err and "outside range" in err


@pytest.mark.parametrize("isolation", [[], ["--in-process"]])
@pytest.mark.parametrize("source, line, reason", [
    ("import numpy\ndef f(:\n    pass\n", 2, "SyntaxError: invalid syntax"),
    ("import numpy\n\nnumpy.zeros(3)['x']\n", 3, "IndexError: only integers, slices"),
    ("import numpy\nnumpy.linalg.inv(numpy.zeros((2, 2)))\n", 2, "LinAlgError: Singular matrix"),
])
def test_a_submission_that_fails_to_import_is_named_with_its_own_line(
        tmp_path, capsys, isolation, source, line, reason):
    """The file and its line (not numpy's), the error's type and message, once, no
    Python repr; and no empty results directory left behind."""
    path = tmp_path / "mine.py"
    path.write_text(source)
    out = tmp_path / "results" / "deep"
    assert main(["run", "--agent", str(path), "--tasks", "Bandit10-v0", "--jobs", "1",
                 "--out", str(out), *isolation]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{path}, line {line}: importing the submission failed: {reason}" in err
    assert err.count(str(path)) == 1 and "Error(" not in err  # no repr
    assert len(err.splitlines()) == 1 and not (tmp_path / "results").exists()


def test_a_protocol_the_submission_lacks_is_named_in_words(tmp_path, capsys):
    assert main(["run", "--agent", "plugin", "--protocol", "online", "--tasks",
                 "Bandit10-v0", "--jobs", "1", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip() == (
        "rlbench-icl run: error: plugin supports only offline, not online")
    assert not (tmp_path / "r").exists()
