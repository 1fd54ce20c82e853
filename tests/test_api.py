"""Issue 21: the Python API, and the README's notebook example run as it is written."""

import copy
import gc
import pickle
import re
import tempfile
import warnings
from pathlib import Path

import pytest

import rlbench_icl as rl
from rlbench_icl.errors import SubmissionError

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_notebook_example_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text()
    example = re.search(r"<!-- notebook-example -->\n```python\n(.*?)```", text, re.S)[1]
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md notebook example", "exec"), {})
    printed = capsys.readouterr().out
    assert "'online'" in printed and "FrozenLake4x4-v0" in printed


def test_evaluate_returns_the_long_table_of_the_grid(tmp_path):
    scores = rl.evaluate("random", tasks="Bandit10-v0,RiverSwim6-v0", seeds=2, episodes=5,
                         out=tmp_path, progress=False)
    online = [r for r in scores.rows if r["protocol"] == "online"]
    offline = [r for r in scores.rows if r["protocol"] == "offline"]
    assert len(online) == 4 and len(offline) == 2 * 2 * 9  # 3 sizes x 3 behaviours per run
    assert set(scores.iqm()) == {"online", "offline"} and scores.failed() == []
    assert scores.to_pandas().shape == (len(scores), len(rl.api.LONG_COLUMNS))
    # the leaderboard's reader refuses runs with another episode budget, and says so
    assert rl.load_results(tmp_path).rows == [r for r in scores.rows if r["protocol"] ==
                                              "offline"]


def test_a_notebook_object_runs_in_process_only(tmp_path):
    class Zero:
        def __init__(self, info, rng):
            pass

        def act(self, state, step):
            return 0

        def observe(self, *transition):
            pass

        def end_episode(self):
            pass

    mine = rl.Submission(name="zero", version="1", make_online_agent=Zero)
    scores = rl.evaluate(mine, tasks="Bandit10-v0", seeds=1, episodes=3, out=tmp_path,
                         progress=False)
    assert len(scores) == 1
    stored = rl.store.read_result(next(tmp_path.rglob("seed-0.json")))
    assert stored["isolation"] == "in-process"
    with pytest.raises(SubmissionError, match="jobs=1"):
        rl.evaluate(mine, tasks="Bandit10-v0", jobs=2, out=tmp_path)


def test_the_default_results_directory_lives_as_long_as_its_scores(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(rl.errors.RlbenchIclError):
        rl.evaluate("no-such-agent", tasks="Bandit10-v0", seeds=1, episodes=3, progress=False)
    assert list(tmp_path.iterdir()) == []  # bad input makes no directory
    scores = rl.evaluate("random", tasks="Bandit10-v0", seeds=1, episodes=3,
                         protocols=("online",), progress=False)
    results_dir = scores.results_dir
    assert results_dir.parent == tmp_path and list(results_dir.rglob("seed-0.json"))
    copied = copy.deepcopy(scores)
    del scores
    gc.collect()
    assert results_dir.exists()  # the copy holds it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # removed silently
        del copied
        gc.collect()
    assert not results_dir.exists()
    # pickled (a Scores returned from another process): the runs are kept, as with out=
    pickled = pickle.dumps(rl.evaluate("random", tasks="Bandit10-v0", seeds=1, episodes=3,
                                       protocols=("online",), progress=False))
    gc.collect()
    kept = pickle.loads(pickled)
    assert list(kept.results_dir.rglob("seed-0.json"))
