"""`pack` never replaces a differing file unless asked, and refuses to pack nothing."""

import gzip

import pytest

from rlbench_icl.cli import main


@pytest.fixture
def results(tmp_path, tiny_tasks):
    out = tmp_path / "results"
    assert main(["run", "--agent", "random", "--tasks", "TinyBandit-v0", "--seeds", "2",
                 "--protocol", "online", "--jobs", "1", "--quiet", "--out", str(out),
                 "--task-path", str(tiny_tasks)]) == 0
    return out


def test_pack_refuses_to_replace_a_differing_file_and_writes_nothing(results, tmp_path,
                                                                      capsys):
    packed = tmp_path / "packed"
    assert main(["pack", "--results", str(results), "--out", str(packed)]) == 0
    target = packed / "random/online/TinyBandit-v0/seed-0.json.gz"
    other = packed / "random/online/TinyBandit-v0/seed-1.json.gz"
    target.write_bytes(gzip.compress(b"{}", mtime=0))
    other.unlink()
    capsys.readouterr()
    assert main(["pack", "--results", str(results), "--out", str(packed)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing was written" in err[0] and "--force" in err[0]
    assert target.read_bytes() == gzip.compress(b"{}", mtime=0) and not other.exists()
    assert main(["pack", "--results", str(results), "--out", str(packed), "--force"]) == 0
    assert "packed 2 files" in capsys.readouterr().out and other.exists()
    assert main(["pack", "--results", str(results), "--out", str(packed)]) == 0
    assert "packed 0 files" in capsys.readouterr().out  # the same bytes are already there


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_pack_of_nothing_is_an_error(tmp_path, capsys, where):
    source = tmp_path / where
    if where == "empty":
        source.mkdir()
    assert main(["pack", "--results", str(source), "--out", str(tmp_path / "o")]) == 2
    assert "rlbench-icl pack: error:" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["pack", "--results", "RESULTS"], ["leaderboard"],
                                     ["verify"]])
def test_the_default_results_outside_the_checkout_root_say_where_they_are_looked_for(
        results, tmp_path, monkeypatch, capsys, command):
    """Run from another directory, the default (the committed results, relative to the
    repository's root) is missing: say so and how to fix it, and make no directory (pack
    once made a stray ./leaderboard/results holding only the new runs)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    argv = [str(results) if a == "RESULTS" else a for a in command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"rlbench-icl {command[0]}: error: results directory "
                          f"leaderboard/results does not exist in {elsewhere}")
    assert "run from there or pass --" in err and len(err.splitlines()) == 1
    assert list(elsewhere.iterdir()) == []


def test_the_pack_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["pack", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default: leaderboard/results" in text and "--force" in text


def test_a_trailing_comma_in_tasks_is_accepted(capsys):
    assert main(["tasks", "--tasks", "quick,"]) == 0
    assert "RiverSwim6-v0" in capsys.readouterr().out


@pytest.mark.parametrize("command", [
    ["run", "--agent", "random", "--tasks", "Bandit10-v0", "--seeds", "1"],
    ["leaderboard"],
])
def test_an_unwritable_out_is_one_line(tmp_path, capsys, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in (blocker, blocker / "below"):
        assert main([*command, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"cannot write into {out}" in err[0], err
