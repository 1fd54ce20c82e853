"""Issue 24: sealed runs. Each attack of tests/attack_submissions.py succeeds in-process
(where that can be shown safely) and fails, with a clear record, when the agent is sealed in
its own process; honest agents give the same records either way."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlbench_icl import store
from rlbench_icl.cli import main
from rlbench_icl.discovery import available, reference
from rlbench_icl.sealed.confine import landlock_abi
from rlbench_icl.sealed.proxy import ZYGOTE_MODULE

ATTACKS = Path(__file__).with_name("attack_submissions.py")
TASK = "FrozenLake4x4-v0"


def run(name: str, out: Path, *extra: str) -> int:
    return main(["run", "--agent", f"{ATTACKS}::{name}", "--tasks", TASK, "--seeds", "1",
                 "--episodes", "4", "--protocol", "online", "--jobs", "1", "--quiet",
                 "--out", str(out), *extra])


def record(out: Path, name: str) -> dict:
    return store.read_result(next((out / name).rglob("seed-0.json*")))


def test_walking_the_stack_finds_the_task_in_process_but_not_sealed(tmp_path):
    assert run("frame-walker", tmp_path / "in", "--in-process") == 0
    cheated = record(tmp_path / "in", "frame-walker")["result"]["scores"]
    assert cheated["final_score"] == pytest.approx(1.0)  # the attack works in-process
    assert run("frame-walker", tmp_path / "sealed") == 0
    honest = record(tmp_path / "sealed", "frame-walker")["result"]["scores"]
    assert honest["final_score"] < 0.5 and honest["online_score"] < 0.5


def test_an_agent_process_cannot_build_tasks(tmp_path):
    assert run("registry-reader", tmp_path / "in", "--in-process") == 0
    cheated = record(tmp_path / "in", "registry-reader")
    optimal = cheated["task"]["optimal_value"]  # its policy is the task's optimal one:
    assert cheated["result"]["episodes"]["policy_values"][-1] > 0.99 * optimal
    assert run("registry-reader", tmp_path / "sealed") == 1
    failed = record(tmp_path / "sealed", "registry-reader")
    assert "an agent process cannot build tasks" in failed["error"]["message"]


@pytest.mark.parametrize("kind, extra, reason", [
    ("swallows-timeout", ["--timeout", "3"], "passed its time limit of 3.0 s"),
    ("eats-memory", ["--memory", "0.5"], "ran out of memory"),
    ("sys-exit", [], "SystemExit(0)"),
    ("os-exit", [], "the agent process exited with code 0"),
    ("segfault", [], "killed by SIGSEGV"),
    ("keyboard-interrupt", [], "KeyboardInterrupt()"),
    ("bad-repr", [], "whose repr raised"),
    ("huge-message", [], "characters cut"),
])
def test_every_way_an_agent_ends_is_a_one_line_failed_record(tmp_path, kind, extra, reason):
    start = time.monotonic()
    assert run(f"attack-{kind}", tmp_path, *extra) == 1
    failed = record(tmp_path, f"attack-{kind}")
    message = failed["error"]["message"]
    assert failed["status"] == "failed" and reason in message and "\n" not in message
    assert len(json.dumps(failed)) < 100_000
    assert time.monotonic() - start < 60


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and b"pytest" not in cmdline:
            found.append(int(pid))
    return found


def test_no_process_an_agent_starts_outlives_its_run(tmp_path):
    from attack_submissions import MARKER, ORPHAN

    with subprocess.Popen(ORPHAN) as orphan:  # the attack's process lives and can be found
        time.sleep(0.2)
        found = _processes_with(MARKER)
        orphan.kill()
    assert found == [orphan.pid]
    assert run("attack-leaves-orphan", tmp_path) == 1
    deadline = time.monotonic() + 5
    while _processes_with(MARKER) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(MARKER) == []


def test_killing_run_leaves_no_worker_or_agent_behind(tmp_path):
    """Issue 24: a SIGKILLed ``run`` left its loky workers to finish their runs and idle for
    loky's five-minute timeout, with their fork servers and hung agent processes (and the
    agents' scratch directories). Now every process it started is gone within seconds."""
    faulty = Path(__file__).with_name("faulty_submissions.py")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    cmd = [sys.executable, "-m", "rlbench_icl.cli", "run", "--agent", f"{faulty}::faulty-hangs",
           "--tasks", "RiverSwim6-v0,FrozenLake4x4-v0", "--seeds", "2", "--protocol",
           "online", "--jobs", "2", "--timeout", "120", "--quiet", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TMPDIR": str(scratch)})
    deadline = time.monotonic() + 120
    while len(_agents(started := _descendants(proc.pid))) < 2:  # both workers play a run
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while _living(started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _living(started) == []
    assert [p.name for p in scratch.iterdir() if p.name.startswith("rlbench-icl-agent-")] == []


def _descendants(root: int) -> dict[int, bytes]:
    """pid -> command line of every process descended from ``root``."""
    table, found, frontier = _process_table(), {}, {root}
    while frontier:
        frontier = {pid for pid, (parent, _) in table.items()
                    if parent in frontier and pid not in found}
        found.update((pid, table[pid][1]) for pid in frontier)
    return found


def _agents(processes: dict[int, bytes]) -> list[int]:
    """The agent processes among ``processes``: forked by a fork server, so with its
    command line, under a parent with it too."""
    table = _process_table()
    zygote = ZYGOTE_MODULE.encode()
    parent = {pid: table[table[pid][0]][1] for pid in processes
              if pid in table and table[pid][0] in table}
    return [pid for pid, cmdline in processes.items()
            if zygote in cmdline and zygote in parent.get(pid, b"")]


def _living(processes: dict[int, bytes]) -> list[int]:
    """Those of ``processes`` still running (not zombies) under the same command line."""
    living = []
    for pid, cmdline in processes.items():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
            same = Path(f"/proc/{pid}/cmdline").read_bytes() == cmdline
        except OSError:
            continue
        if same and state != "Z":
            living.append(pid)
    return living


EXIT_REASONS = {  # the record of each exit of attack_submissions.EXITS
    "sys-exit": "call act, episode 0, step 0: SystemExit(0)",
    "os-exit": "the agent process exited with code 0",
    "segfault": "the agent process was killed by SIGSEGV",
    "eats-memory": "ran out of memory",
    "swallows-timeout": "passed its time limit of 5.0 s; the agent process was killed",
    "keyboard-interrupt": "KeyboardInterrupt()",
    "leaves-orphan": "the agent process exited with code 0",
}


@pytest.fixture(scope="module")
def exit_tasks(tmp_path_factory) -> Path:
    """A task directory: a RiverSwim chain for each exit of ``EXITS`` (by its number of
    states) and one more, played honestly; all tagged ``exits``."""
    from attack_submissions import EXITS, FIRST_EXIT_STATES

    directory = tmp_path_factory.mktemp("exit-tasks")
    (directory / "exits.toml").write_text("".join(
        f'[[task]]\nid = "Exits{S}-v0"\ndescription = "x"\ntags = ["exits"]\n'
        f'builder = "riverswim"\nhorizon = 5\nepisodes = 3\n[task.params]\nnum_states = {S}\n'
        for S in range(FIRST_EXIT_STATES, FIRST_EXIT_STATES + len(EXITS) + 1)))
    return directory


@pytest.mark.parametrize("backend", ["loky", "dask"])
def test_every_exit_fails_only_its_run_on_loky_and_dask(tmp_path, capsys, exit_tasks,
                                                        backend):
    """Issue 24: with two loky workers, and on a real Dask LocalCluster, every exit gives a
    one-line failed record, the honest run beside them is stored ok, and no agent process,
    nor anything it started, outlives the grid. On Dask the workers survive, and the fork
    servers they started end with them."""
    from distributed import LocalCluster

    if backend == "loky":
        _run_every_exit(tmp_path, capsys, exit_tasks, "--jobs", "2")
        return
    before = _fork_servers(_process_table())
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        workers = set(cluster.scheduler_info["workers"])
        _run_every_exit(tmp_path, capsys, exit_tasks, "--backend", "dask", "--scheduler",
                        cluster.scheduler_address)
        assert set(cluster.scheduler_info["workers"]) == workers  # none died, none replaced
        table = _process_table()
        in_workers = {pid for pid in _fork_servers(table) - before
                      if table[pid][0] != os.getpid()}  # not this process's own
        assert 0 < len(in_workers) <= 2
    assert _gone(in_workers)


def _run_every_exit(out: Path, capsys, exit_tasks: Path, *where: str) -> None:
    from attack_submissions import EXITS, FIRST_EXIT_STATES

    # --timeout 5: the honest run must fit in it even as a cold worker's first (the registry
    # read and the fork server started: over 2 s on a loaded machine)
    code = main(["run", "--agent", f"{ATTACKS}::attack-exits-by-task", "--tasks", "exits",
                 "--task-path", str(exit_tasks), "--seeds", "1", "--protocol", "online",
                 "--timeout", "5", "--memory", "0.5", "--quiet", "--out", str(out), *where])
    assert code == 1 and f"{len(EXITS)} runs failed" in capsys.readouterr().err
    assert _left_behind() == []
    records = {r["task"]["id"]: r for r in map(store.read_result, out.rglob("seed-0.json*"))}
    assert len(records) == len(EXITS) + 1
    assert records.pop(f"Exits{FIRST_EXIT_STATES + len(EXITS)}-v0")["status"] == "ok"
    for i, kind in enumerate(EXITS):
        failed = records[f"Exits{FIRST_EXIT_STATES + i}-v0"]
        message = failed["error"]["message"]
        assert failed["status"] == "failed" and "\n" not in message, kind
        assert EXIT_REASONS[kind] in message, (kind, message)


def _process_table() -> dict[int, tuple[int, bytes]]:
    """pid -> (parent pid, command line) of every process (a zombie's command line is
    empty)."""
    table = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        table[int(pid)] = (int(stat.rpartition(")")[2].split()[1]), cmdline)
    return table


def _fork_servers(table) -> set[int]:
    """The fork servers this test process started, directly or through its workers (an
    agent process, forked from one, has the same command line but a fork server parent)."""
    def zygote(pid):
        return ZYGOTE_MODULE.encode() in table.get(pid, (0, b""))[1]

    def ours(pid):
        while pid > 1 and pid != os.getpid():
            pid = table.get(pid, (0, b""))[0]
        return pid == os.getpid()

    return {pid for pid, (parent, _) in table.items()
            if zygote(pid) and not zygote(parent) and ours(pid)}


def _left_behind(grace: float = 5.0) -> list[int]:
    """Agent processes of this test's fork servers (zombies too), and processes started by
    the orphan attack, still there ``grace`` seconds on."""
    from attack_submissions import MARKER

    deadline = time.monotonic() + grace
    while True:
        table = _process_table()
        servers = _fork_servers(table)
        found = [pid for pid, (parent, cmdline) in table.items()
                 if parent in servers or (MARKER.encode() in cmdline
                                          and b"pytest" not in cmdline)]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _gone(pids: set[int], grace: float = 10.0) -> bool:
    """Whether the processes end (or are zombies) within ``grace`` seconds."""
    def alive(pid):
        try:
            return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + grace
    while any(map(alive, pids)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not landlock_abi(), reason="the kernel has no Landlock")
def test_an_agent_cannot_write_outside_its_scratch_directory(tmp_path, monkeypatch):
    target = tmp_path / "other-submission" / "online" / "seed-0.json"
    target.parent.mkdir(parents=True)
    target.write_text("stored")
    monkeypatch.setenv("RLBENCH_ICL_ATTACK_TARGET", str(target))
    assert run("attack-writes-elsewhere", tmp_path / "sealed") == 1
    failed = record(tmp_path / "sealed", "attack-writes-elsewhere")
    assert "PermissionError" in failed["error"]["message"]
    assert target.read_text() == "stored"
    assert run("attack-writes-elsewhere", tmp_path / "in", "--in-process") == 0
    assert target.read_text() == "tampered"  # what sealing prevents


def test_honest_agents_give_the_same_records_sealed_and_in_process(tmp_path):
    for mode, extra in (("sealed", []), ("in-process", ["--in-process"])):
        for agent in ("ucbvi", "psrl", "vi-lcb"):
            assert main(["run", "--agent", agent, "--tasks", "quick", "--seeds", "1",
                         "--episodes", "20", "--jobs", "2", "--quiet",
                         "--out", str(tmp_path / mode), *extra]) == 0
    sealed = sorted((tmp_path / "sealed").rglob("seed-*.json*"))
    assert len(sealed) == 9
    for path in sealed:
        a = store.read_result(path)
        b = store.read_result(tmp_path / "in-process" / path.relative_to(tmp_path / "sealed"))
        assert (a.pop("isolation"), b.pop("isolation")) == ("sealed", "in-process")
        assert a == b, path


def test_looking_up_a_submission_by_name_imports_no_file(tmp_path):
    (tmp_path / "evil.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(tmp_path / 'imported')!r}).write_text('x')\n"
        "from rlbench_icl import Submission\n"
        "SUBMISSION = Submission(name='evil', version='1', solve_offline=print)\n")
    (tmp_path / "good.py").write_text(
        "from rlbench_icl import Submission\n"
        "SUBMISSIONS = [Submission('good', '1', solve_offline=print)]\n")
    assert set(available(tmp_path)) == {"evil", "good"}
    assert reference("good", tmp_path).endswith("good.py::good")
    assert not (tmp_path / "imported").exists()


@pytest.mark.parametrize("agent, said", [
    ("os:system", "a builtin_function_or_method"),
    ("os:abort", "a builtin_function_or_method"),
    ("builtins:exit", "a Quitter"),
])
def test_a_reference_to_something_else_is_refused_in_one_line(tmp_path, capsys, agent, said):
    assert main(["run", "--agent", agent, "--tasks", "Bandit10-v0", "--out",
                 str(tmp_path), "--in-process"]) == 2
    err = capsys.readouterr().err
    assert "neither a Submission nor a Python function" in err and said in err
    assert len(err.strip().splitlines()) == 1


def test_input_edges_get_clear_refusals(tmp_path):
    """Issue 24's input edges: ids with a trailing newline, oversized budgets, overflowing
    rewards, a task file that would import code, complex policies, private result files."""
    import warnings

    import numpy as np

    from rlbench_icl import TaskInfo, load_registry
    from rlbench_icl.errors import TaskFileError
    from rlbench_icl.protocols import AgentError
    from rlbench_icl.protocols.common import check_policy
    from rlbench_icl.store import write_atomic
    from rlbench_icl.tasks import TASK_ID

    assert TASK_ID.match("Maze-v0") and not TASK_ID.match("Maze-v0\n")
    assert not TASK_ID.match("M" * 200 + "-v0")
    chain = ('builder = "distractor_chain"\nparams = {num_states = 5, start = 2, '
             'near_reward = 0.1, far_reward = %s, slip = 0.2}\n')
    cases = {
        "horizon = 1000000000\nepisodes = 10\n" + chain % "1.0": "'horizon' must be in 1..",
        "horizon = 10\nepisodes = 10\n" + chain % "1e300": "rewards must be finite",
        "horizon = 10\nepisodes = 10\ndiscount = 0.9\nobjective = \"discounted\"\n"
        + chain % "1e300": "rewards must be finite",
        'horizon = 10\nepisodes = 10\nbuilder = "gymnasium_toy_text"\n'
        'params = {env_id = "this:FrozenLake-v1"}\n': "a task file never imports code",
    }
    for i, (body, message) in enumerate(cases.items()):
        directory = tmp_path / f"case{i}"
        directory.mkdir()
        (directory / "t.toml").write_text(
            f'[[task]]\nid = "Edge{i}-v0"\ndescription = "x"\ntags = ["edge"]\n{body}')
        with pytest.raises(TaskFileError, match=message), warnings.catch_warnings():
            warnings.simplefilter("error")  # the error alone: no numpy warning before it
            load_registry([directory]).make(f"Edge{i}-v0")
    info = TaskInfo(2, 2, 3, 1.0, "finite", (0.0, 1.0), "deterministic", 0)
    with pytest.raises(AgentError, match="complex"):
        check_policy(np.full((2, 2), 0.5 + 0j), info)
    write_atomic(tmp_path / "r.json", "{}")
    assert (tmp_path / "r.json").stat().st_mode & 0o044  # readable by others, as umask says


def test_the_wire_refuses_what_could_run_code_or_exhaust_memory():
    import io
    import struct

    import numpy as np

    from rlbench_icl.sealed import wire

    stream = io.BytesIO()
    wire.send(stream, {"op": "x"}, [np.arange(6, dtype=np.int64).reshape(2, 3)])
    wire.send_act(stream, 0, 4, 7, [4, 1, 0.5, 5, True])
    stream.seek(0)
    header, arrays = wire.receive(stream)
    assert header == {"op": "x"} and arrays[0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert wire.receive(stream)[0] == {"op": "act", "agent": 0, "state": 4, "step": 7,
                                       "observe": [4, 1, 0.5, 5, True]}
    hostile = [
        b'{"arrays": [{"dtype": "|O", "shape": [1]}]}',  # an object array: pickles
        b'{"arrays": [{"dtype": "<f8", "shape": [1000000000000]}]}',  # 8 TB
        b'[1, 2]',
    ]
    for body in hostile:
        with pytest.raises(wire.WireError):
            wire.receive(io.BytesIO(struct.pack("<I", len(body)) + body))
    with pytest.raises(wire.WireError, match="over the bound"):
        wire.receive(io.BytesIO(struct.pack("<I", wire.MAX_HEADER_BYTES + 1)))


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="no autogroups")
def test_an_agent_session_keeps_the_harness_niceness():
    """``setsid`` puts the agent in a new autogroup, whose weight ignores niceness: the fork
    server gives that group the niceness of the harness (``nice -n 7 rlbench-icl run``)."""
    import subprocess
    import sys

    code = ("import os; os.setsid(); from rlbench_icl.sealed.zygote import _keep_niceness; "
            "before = open('/proc/self/autogroup').read().split()[-1]; _keep_niceness(); "
            "print(before, open('/proc/self/autogroup').read().split()[-1])")
    out = subprocess.run(["nice", "-n", "7", sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["0", str(min(19, os.nice(0) + 7))]  # `nice` adds to a niced pytest's own
