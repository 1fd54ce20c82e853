import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rlbench_icl import default_registry
from rlbench_icl.cli import main
from rlbench_icl.discovery import resolve
from rlbench_icl.runner import plan_runs, run_grid
from rlbench_icl.store import ResultFileError, read_result

FAULTY = Path(__file__).with_name("faulty_submissions.py")
README = Path(__file__).resolve().parent.parent / "README.md"


def result_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.json"))}


def random_grid(seeds=3, tasks=("RiverSwim6-v0", "Bandit10-v0"), episodes=20):
    ref, sub = resolve("random")
    return plan_runs(ref, sub, default_registry(), list(tasks), ("online", "offline"),
                     range(seeds), num_episodes=episodes)


def test_same_files_for_any_worker_count(tmp_path):
    runs = random_grid()
    one = run_grid(runs, tmp_path / "one", jobs=1, progress=False)
    two = run_grid(runs, tmp_path / "two", jobs=2, progress=False)
    assert one.executed == two.executed == len(runs) == 12
    files = result_files(tmp_path / "one")
    assert len(files) == 12 and files == result_files(tmp_path / "two")


def test_resume_skips_finished_runs_and_repairs_damage(tmp_path, capsys):
    runs = random_grid()
    run_grid(runs, tmp_path, progress=False)
    before = result_files(tmp_path)
    first, second = (tmp_path / name for name in list(before)[:2])
    first.unlink()
    second.write_text(second.read_text()[:50])  # a torn file, as from another tool
    (second.parent / ".seed-0.json.abc.tmp").write_text("{")  # a temp file left by a kill
    capsys.readouterr()
    again = run_grid(runs, tmp_path, progress=False)
    assert (again.executed, again.skipped) == (2, 10)
    [said] = capsys.readouterr().err.splitlines()  # the torn file is named as it is remade
    assert said.startswith(f"cannot reuse a stored result, making it again: {second}")
    assert result_files(tmp_path) == before
    forced = run_grid(runs, tmp_path, force=True, progress=False)
    assert forced.executed == 12 and result_files(tmp_path) == before


def test_changed_settings_are_not_reused(tmp_path):
    run_grid(random_grid(episodes=20), tmp_path, progress=False)
    report = run_grid(random_grid(episodes=21), tmp_path, progress=False)
    assert report.executed == 6  # the online runs; offline settings did not change


def test_killed_run_resumes_without_partial_files(tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "rlbench_icl.cli", "run", "--agent", "random", "--tasks",
           "RiverSwim6-v0,Bandit10-v0", "--seeds", "10", "--jobs", "1", "--quiet",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(out.rglob("seed-*.json"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for path in out.rglob("seed-*.json"):
        read_result(path)  # every file that exists is whole
    subprocess.run(cmd, check=True, capture_output=True)
    clean = tmp_path / "clean"
    subprocess.run(cmd[:-1] + [str(clean)], check=True, capture_output=True)
    assert result_files(out) == result_files(clean) and len(result_files(clean)) == 40


@pytest.mark.parametrize("fault, message", [
    ("raises", "act, episode 0, step 3: RuntimeError('boom')"),
    ("bad-action", "act() returned action 4, outside range(4)"),
    ("float-action", "act() returned 0.0 of type float"),
    ("bad-policy", r"policy has shape (17, 4)"),
    ("nan-policy", "policy has a non-finite entry"),
    ("hangs", "the run passed its time limit of 6.0 s"),
])
def test_failures_are_recorded_and_the_grid_completes(tmp_path, capsys, fault, message):
    """A faulty cell fails with its reason and the grid goes on. The time limit is short
    only where a run hangs, and even there leaves the healthy runs beside it (a sealed
    process each) room on a loaded machine: at 2 s one went over under load (stop 37)."""
    out = tmp_path / "results"
    timeout = "6" if fault == "hangs" else "60"
    code = main(["run", "--agent", f"{FAULTY}::faulty-{fault}", "--tasks",
                 "RiverSwim6-v0,FrozenLake4x4-v0", "--seeds", "2", "--episodes", "3",
                 "--protocol", "online", "--jobs", "1", "--timeout", timeout, "--quiet",
                 "--out", str(out)])
    assert code == 1
    assert "2 runs failed" in capsys.readouterr().err
    ok = read_result(out / f"faulty-{fault}/online/RiverSwim6-v0/seed-1.json")
    bad = read_result(out / f"faulty-{fault}/online/FrozenLake4x4-v0/seed-1.json")
    assert ok["status"] == "ok" and ok["result"]["scores"]["online_score"] is not None
    assert bad["status"] == "failed" and bad["result"] is None
    assert message in bad["error"]["message"]
    assert bad["error"]["message"].startswith(
        f"agent faulty-{fault}, task FrozenLake4x4-v0, online, seed 1:")
    assert "Traceback" in bad["error"]["traceback"]


def test_offline_failure_names_the_cell(tmp_path):
    out = tmp_path / "results"
    main(["run", "--agent", f"{FAULTY}::faulty-raises", "--tasks", "FrozenLake4x4-v0",
          "--seeds", "1", "--protocol", "offline", "--jobs", "1", "--quiet", "--out", str(out)])
    bad = read_result(out / "faulty-raises/offline/FrozenLake4x4-v0/seed-0.json")
    assert "solve_offline, epsilon 1.0, dataset_episodes 5: RuntimeError('offline boom')" in (
        bad["error"]["message"])


def test_newcomer_submission_from_the_readme_runs_by_path(tmp_path, capsys):
    text = README.read_text()
    start = text.index("```python\n# submissions/my_agent.py") + len("```python\n")
    source = text[start:text.index("```", start)]
    path = tmp_path / "my_agent.py"
    path.write_text(textwrap.dedent(source))
    out = tmp_path / "results"
    assert main(["run", "--agent", str(path), "--tasks", "quick", "--seeds", "2",
                 "--jobs", "2", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "RiverSwim6-v0" in printed and "IQM" in printed
    record = read_result(out / "my-agent/online/RiverSwim6-v0/seed-0.json")
    assert record["submission"]["name"] == "my-agent" and record["status"] == "ok"


def test_read_result_refuses_foreign_files(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"schema": "other/9"}))
    with pytest.raises(ResultFileError, match="schema 'other/9'"):
        read_result(path)
    path.write_text("{not json")
    with pytest.raises(ResultFileError, match="unreadable"):
        read_result(path)


@pytest.mark.parametrize("mode, message", [
    ([], "the agent process exited with code 3"),
    (["--in-process"], "the worker process died"),
])
def test_a_process_killed_by_its_agent_fails_only_its_runs(tmp_path, capsys, mode, message):
    out = tmp_path / "results"
    code = main(["run", "--agent", f"{FAULTY}::faulty-exits", "--tasks",
                 "RiverSwim6-v0,FrozenLake4x4-v0", "--seeds", "2", "--episodes", "3",
                 "--protocol", "online", "--jobs", "2", "--quiet", "--out", str(out), *mode])
    assert code == 1 and "2 runs failed" in capsys.readouterr().err
    for seed in (0, 1):
        ok = read_result(out / f"faulty-exits/online/RiverSwim6-v0/seed-{seed}.json")
        bad = read_result(out / f"faulty-exits/online/FrozenLake4x4-v0/seed-{seed}.json")
        assert ok["status"] == "ok"
        assert bad["status"] == "failed" and message in bad["error"]["message"]


def test_two_concurrent_runs_into_one_directory_do_no_work_twice(tmp_path):
    """The second command starts once the first has stored its first run (so it holds the
    lock and has most of its grid to go): it must wait, then reuse everything."""
    out = tmp_path / "shared"
    cmd = [sys.executable, "-m", "rlbench_icl.cli", "run", "--agent", "random", "--tasks",
           "RiverSwim6-v0,Bandit10-v0", "--seeds", "15", "--jobs", "1", "--out", str(out)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(out.rglob("seed-*.json")) and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    executed = [int(o.splitlines()[-1].split()[0]) for o, _ in outputs]
    assert executed == [60, 0]  # the first did everything, the second reused it all
    assert "waiting" in outputs[1][1]
    clean = tmp_path / "clean"
    subprocess.run(cmd[:-1] + [str(clean)], check=True, capture_output=True)
    assert result_files(out) == result_files(clean) and len(result_files(clean)) == 60
    timings = (out / "random" / "timings.jsonl").read_text().splitlines()
    assert len(timings) == 60 and all(json.loads(line) for line in timings)


def test_a_run_waiting_for_another_runs_lock_says_so_even_when_quiet(tmp_path, capsys):
    import fcntl
    import threading

    from rlbench_icl.runner.grid import _directory_lock

    directory = tmp_path / "sub"
    directory.mkdir()
    entered = threading.Event()

    def second_run():
        with _directory_lock(directory):
            entered.set()

    with open(directory / ".lock", "a") as held:  # the first run holds the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        waiter = threading.Thread(target=second_run)
        waiter.start()
        assert not entered.wait(0.5), "the second run must wait for the lock"
        fcntl.flock(held, fcntl.LOCK_UN)
    waiter.join(10)
    assert entered.is_set()
    assert f"another rlbench-icl run is writing into {directory}" in capsys.readouterr().err
