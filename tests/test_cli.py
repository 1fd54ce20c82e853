import subprocess
import sys

from rlbench_icl.cli import main


def test_tasks_command_prints_the_suite(capsys):
    assert main(["tasks", "--tasks", "quick"]) == 0
    out = capsys.readouterr().out
    assert "FrozenLake4x4-v0" in out and "0.7442" in out and "V_rand" in out


def test_unknown_selector_is_an_error_not_a_traceback(capsys):
    assert main(["tasks", "--tasks", "quik"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'quick'" in err and "Traceback" not in err


def test_console_script_help():
    for args in (["--help"], ["tasks", "--help"]):
        out = subprocess.run([sys.executable, "-m", "rlbench_icl.cli", *args],
                             capture_output=True, text=True, check=True).stdout
        assert "usage: rlbench-icl" in out


def test_core_imports_without_torch():
    code = ("import sys, rlbench_icl, rlbench_icl.cli; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_imports_only_what_parsing_needs():
    """``--help`` starts fast because the heavy modules load when a command runs (timed in
    benchmarks/bench_cli_start.py); this names any that creeps back into the start."""
    heavy = ("scipy", "joblib", "tabulate", "torch", "matplotlib", "rliable", "pandas",
             "rlbench_icl.runner", "rlbench_icl.leaderboard")
    code = ("import sys\nfrom rlbench_icl.cli import main\n"
            "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == "[]"


def test_ctrl_c_is_one_line_saying_what_is_kept(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "rlbench_icl.cli", "run", "--agent", "ucbvi", "--tasks",
         "full", "--seeds", "3", "--out", str(tmp_path), "--jobs", "1", "--quiet"],
        stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        # as in a terminal: SIGINT at its default, whatever an earlier test left ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(10)  # imports, the conformance check, then some runs
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1].strip().splitlines()
    assert proc.returncode == 130
    assert len(err) == 1 and err[0].startswith("rlbench-icl run: interrupted"), err


def test_version_is_the_package_version(capsys):
    import pytest

    from rlbench_icl import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"rlbench-icl {__version__}\n"


def test_tasks_and_agents_print_json(capsys):
    import json

    from rlbench_icl import default_registry

    assert main(["tasks", "--tasks", "quick", "--json"]) == 0
    tasks = json.loads(capsys.readouterr().out)
    task = default_registry().make("RiverSwim6-v0")
    row = next(t for t in tasks if t["id"] == "RiverSwim6-v0")
    assert (row["optimal_value"], row["random_value"], row["digest"]) == (
        task.optimal_value, task.random_value, task.digest)
    assert main(["agents", "--json"]) == 0
    agents = {a["name"]: a for a in json.loads(capsys.readouterr().out)}
    assert agents["ucbvi"]["protocols"] == ["online"] and "version" in agents["random"]


def test_run_prints_json_on_stdout_and_progress_elsewhere(tmp_path, capsys):
    import json

    args = ["run", "--agent", "random", "--tasks", "Bandit10-v0,", "--seeds", "2",
            "--out", str(tmp_path), "--jobs", "1", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["executed"] == 4 and first["reused"] == 0 and first["failed"] == []
    assert {(c["protocol"], c["runs"]) for c in first["cells"]} == {("online", 2),
                                                                    ("offline", 2)}
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["reused"] == 4 and again["iqm"] == first["iqm"]


def test_run_says_what_a_ranking_still_needs(tmp_path, capsys):
    assert main(["run", "--agent", "random", "--tasks", "Bandit10-v0", "--seeds", "2",
                 "--protocol", "online", "--out", str(tmp_path), "--jobs", "1",
                 "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    dev = next(x for x in lines if x.startswith("for a ranking on dev (online)"))
    total = int(dev.split(" of ")[1].split()[0])
    assert f": {total - 2} of {total} runs missing" in dev  # its 2 dev runs are stored
    assert dev.endswith("rlbench-icl run --agent random --tasks dev --seeds 10 --protocol "
                        "online")
    assert any(x.startswith("for a ranking on test (online)") for x in lines)
    assert main(["run", "--agent", "random", "--tasks", "Bandit10-v0", "--seeds", "1",
                 "--protocol", "online", "--out", str(tmp_path), "--jobs", "1"]) == 0
    err = capsys.readouterr().err  # not --quiet: a status line before the check's seconds
    assert err.index("checking random against the contract") < err.index("sealed runs:")
    assert not any("(offline)" in x for x in lines)  # only the protocols it ran


def test_a_failed_run_says_where_its_traceback_is(tmp_path, capsys):
    import json
    from pathlib import Path

    faulty = Path(__file__).with_name("faulty_submissions.py")
    assert main(["run", "--agent", f"{faulty}::faulty-raises", "--tasks", "FrozenLake4x4-v0",
                 "--seeds", "1", "--episodes", "3", "--protocol", "online", "--jobs", "1",
                 "--quiet", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    stored = Path(err.split("traceback is stored in ")[1].split(",")[0])
    assert stored.is_file()
    assert "Traceback" in json.loads(stored.read_text())["error"]["traceback"]
