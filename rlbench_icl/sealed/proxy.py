"""The harness's side of a sealed run: a ``Submission`` whose every call goes to the agent's
own process (``host``), forked per run from a fork server (``zygote``) and killed, with its
whole process group, at the end.

The agent process receives only what the contract gives an agent — ``TaskInfo``, states,
actions, rewards, the dataset arrays and the state of its random generator — and sends back
actions and policies as plain arrays. It may write only in a scratch directory of its own,
removed after the run (``confine``, where the kernel has Landlock). Limits are enforced from
outside: a watchdog kills the process group when the wall-clock limit passes, and the kernel
enforces the address-space and CPU-time limits set in the child before the submission is
imported. Every way the agent process can end becomes an ``AgentError`` with a one-line
reason.

Round trips are batched where the protocol allows: an ``observe`` travels with the next
``act`` or ``end_episode``, a dataset is sent once per solve, ``policy()`` only when the
harness asks for it.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from ..contract import Dataset, Submission, TaskInfo
from ..cpu import pinned
from ..discovery import load
from ..errors import SubmissionError
from ..protocols import AgentError
from . import wire

ZYGOTE_MODULE = "rlbench_icl.sealed.zygote"
DEFAULT_MEMORY = 4 << 30
"""Address-space limit of an agent process (4 GiB): a dense tabular model of S = 5,000 fits."""
LOG_TAIL = 2_000
_LIVE: set[AgentProcess] = set()
"""This process's agent processes that are not closed yet (``kill_live_agents``)."""


@dataclass(frozen=True)
class Limits:
    """What an agent process may use.

    Attributes:
        wall_seconds: wall-clock time from the start of the process (None: no limit).
        memory_bytes: address space (None: no limit).
        cpu_seconds: CPU time (None: the wall-clock limit, if any).
    """

    wall_seconds: float | None = None
    memory_bytes: int | None = DEFAULT_MEMORY
    cpu_seconds: float | None = None


class AgentProcess:
    """One sealed agent process: start it, send requests, read replies, kill it."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.expired = False
        self._log = tempfile.TemporaryFile()
        self.scratch = tempfile.mkdtemp(prefix="rlbench-icl-agent-")
        to_agent_r, to_agent_w = os.pipe()
        from_agent_r, from_agent_w = os.pipe()
        cpu = limits.cpu_seconds or limits.wall_seconds
        try:
            self.pid = zygote().fork((to_agent_r, from_agent_w, self._log.fileno()),
                                     {"memory_bytes": limits.memory_bytes, "cpu_seconds": cpu,
                                      "scratch": self.scratch})
        finally:
            os.close(to_agent_r)
            os.close(from_agent_w)
        self._to = os.fdopen(to_agent_w, "wb")
        self._from = os.fdopen(from_agent_r, "rb")
        _LIVE.add(self)
        self._watchdog = None
        if limits.wall_seconds is not None:
            self._watchdog = threading.Timer(limits.wall_seconds, self._expire)
            self._watchdog.daemon = True
            self._watchdog.start()

    def call(self, header: dict, arrays=()) -> tuple[dict, list[np.ndarray]]:
        """Send a request and return the reply; ``AgentError`` if the agent raised or its
        process ended."""
        return self._exchange(lambda: wire.send(self._to, header, arrays))

    def act(self, agent: int, state: int, step: int, observed) -> dict:
        """The per-step request, in its binary form (``wire.send_act``)."""
        return self._exchange(lambda: wire.send_act(self._to, agent, state, step,
                                                    observed))[0]

    def _exchange(self, send) -> tuple[dict, list[np.ndarray]]:
        try:
            send()
            reply, out = wire.receive(self._from)
        except (OSError, EOFError, wire.WireError, struct.error) as exc:
            raise AgentError(self._ended(exc)) from None
        if "error" in reply:
            error = AgentError(str(reply["error"]))
            error.remote_traceback = str(reply.get("traceback", ""))
            raise error
        return reply, out

    def close(self) -> None:
        """Kill the process group (the agent and anything it started) and wait for it."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        for stream in (self._to, self._from):
            try:
                stream.close()
            except OSError:
                pass
        _kill_group(self.pid)
        self.exit_code()
        self._log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)
        _LIVE.discard(self)

    def exit_code(self, wait: float = 10.0) -> int | None:
        """How the process ended (negative: the signal), waiting up to ``wait`` seconds."""
        end = time.monotonic() + wait
        while True:
            code = zygote().status(self.pid)
            if code is not None or time.monotonic() > end:
                return code
            time.sleep(0.005)

    def _expire(self) -> None:
        self.expired = True
        _kill_group(self.pid)

    def _ended(self, exc: BaseException) -> str:
        """Why the conversation broke, in one line."""
        if self.expired:
            return (f"the run passed its time limit of {self.limits.wall_seconds} s; the "
                    "agent process was killed")
        code = self.exit_code()
        if code is None:
            return f"the agent process stopped answering ({type(exc).__name__}: {exc})"
        if code < 0:
            name = signal.Signals(-code).name
            hint = {"SIGXCPU": " (its CPU-time limit)", "SIGSEGV": " (a crash)"}
            return (f"the agent process was killed by {name}{hint.get(name, '')}"
                    f"{self._log_tail()}")
        return f"the agent process exited with code {code}{self._log_tail()}"

    def _log_tail(self) -> str:
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - LOG_TAIL))
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return f"; its last output: {lines[-1][:200]}" if lines else ""


def kill_live_agents() -> None:
    """Kill every agent process of this process and remove its scratch directory, for a
    worker about to exit because its harness is gone (``runner.dispatch``)."""
    for process in list(_LIVE):
        _kill_group(process.pid)
        shutil.rmtree(process.scratch, ignore_errors=True)


def _kill_group(pid: int) -> None:
    """SIGKILL the process group of a sealed agent process (its session leader's pid), or
    the process alone if it has not started its session yet."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            continue


class Zygote:
    """The harness's handle on its fork server (``zygote``); one per harness process."""

    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # numpy's kernels are fixed when the zygote imports it: always without AVX-512, so
        # every agent process computes the same bits on any x86-64 CPU with AVX2
        # (rlbench_icl/cpu.py)
        self.proc = subprocess.Popen([sys.executable, "-m", ZYGOTE_MODULE,
                                      str(theirs.fileno())],
                                     pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=pinned(os.environ))
        theirs.close()
        self.channel, self.owner = ours, os.getpid()

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def fork(self, fds: tuple[int, int, int], limits: dict) -> int:
        # torch starts in the child, with the child's environment: pinned there too
        request = {"op": "fork", "limits": limits, "environ": pinned(os.environ)}
        return self._ask(request, fds)["pid"]

    def status(self, pid: int) -> int | None:
        return self._ask({"op": "status", "pid": pid})["status"]

    def _ask(self, request: dict, fds=()) -> dict:
        try:
            socket.send_fds(self.channel, [json.dumps(request).encode()], list(fds))
            return json.loads(self.channel.recv(1 << 20))
        except (OSError, ValueError) as exc:
            raise AgentError(f"the agent launcher failed: {exc}") from None


_ZYGOTE: Zygote | None = None


def zygote() -> Zygote:
    """This process's fork server, started on first use (and again if it died, or in a
    forked copy of the process)."""
    global _ZYGOTE
    if _ZYGOTE is None or not _ZYGOTE.alive():
        _ZYGOTE = Zygote()
    return _ZYGOTE


@contextmanager
def sealed_submission(ref: str, limits: Limits = Limits()):
    """The submission ``ref`` (a canonical reference), running in a sealed process for the
    duration of the block. Its metadata comes from the process and is checked here."""
    process = AgentProcess(limits)
    try:
        try:
            reply, _ = process.call({"op": "load", "ref": ref,
                                     "version": wire.PROTOCOL_VERSION})
        except AgentError as exc:  # the reason names the file already if it is the ref
            reason = str(exc)
            raise SubmissionError("cannot load " + (reason if reason.startswith(ref) else
                                                    f"{ref}: {reason}")) from None
        yield _remote_submission(process, reply)
    finally:
        process.close()


@contextmanager
def opened_submission(ref: str, in_process: bool, limits: Limits = Limits()):
    """The submission ``ref`` to check and plan a grid with: imported here for an
    in-process grid, else running sealed for the duration of the block."""
    if in_process:
        yield load(ref)
        return
    with sealed_submission(ref, limits) as submission:
        yield submission


def _remote_submission(process: AgentProcess, reply: dict) -> Submission:
    meta = reply.get("metadata") or {}
    remote = _Remote(process)
    try:
        protocols = set(meta.get("protocols", []))
        return Submission(
            name=meta["name"], version=meta["version"],
            make_online_agent=remote.make_online_agent if "online" in protocols else None,
            solve_offline=remote.solve_offline if "offline" in protocols else None,
            authors=str(meta.get("authors", "")), description=str(meta.get("description", "")),
            url=str(meta.get("url", "")),
            frozen_state=remote.frozen_state if reply.get("frozen_state") else None,
            files=tuple(str(f) for f in reply.get("files", [])))
    except (KeyError, TypeError, ValueError) as exc:
        raise SubmissionError(f"the agent process sent invalid metadata: {exc}") from None


class _Remote:
    """The submission's callables, as requests to its process."""

    def __init__(self, process: AgentProcess):
        self.process = process
        self._ids = itertools.count()
        self._rngs: dict[int, tuple[np.random.Generator, int]] = {}

    def make_online_agent(self, info: TaskInfo, rng: np.random.Generator):
        agent_id = next(self._ids)
        reply, _ = self.process.call({"op": "online", "agent": agent_id,
                                      "info": _info(info), "rng": self._rng(rng)})
        methods = reply.get("methods", [])
        missing = [m for m in ("act", "observe", "end_episode") if m not in methods]
        if missing:
            raise AgentError(f"the online agent lacks {missing}")
        return RemoteAgent(self.process, agent_id, "policy" in methods)

    def solve_offline(self, info: TaskInfo, dataset: Dataset, rng: np.random.Generator):
        arrays = [dataset.states, dataset.actions, dataset.rewards, dataset.next_states,
                  dataset.terminated, dataset.episode, dataset.step]
        reply, out = self.process.call({"op": "offline", "info": _info(info),
                                        "rng": self._rng(rng),
                                        "num_episodes": dataset.num_episodes}, arrays)
        return _policy(reply, out)

    def frozen_state(self) -> str:
        reply, _ = self.process.call({"op": "frozen_state"})
        if "state" not in reply:
            raise AgentError(f"frozen_state() must return a str, got {reply.get('bad_state')}")
        return str(reply["state"])

    def _rng(self, rng: np.random.Generator) -> dict:
        """A generator's state the first time it is sent, then only its id: the agent's
        draws continue in its process (the harness never draws from an agent's stream)."""
        key = id(rng)
        if key in self._rngs and self._rngs[key][0] is rng:
            return {"id": self._rngs[key][1]}
        number = len(self._rngs)
        self._rngs[key] = (rng, number)  # keeps rng alive, so its id is not reused
        return {"id": number, "state": rng.bit_generator.state}


class RemoteAgent:
    """An online agent in a sealed process. ``observe`` is sent with the next request."""

    def __init__(self, process: AgentProcess, agent_id: int, has_policy: bool):
        self.process, self.agent_id = process, agent_id
        self._pending = None
        if has_policy:
            self.policy = self._policy

    def act(self, state: int, step: int) -> int:
        observed, self._pending = self._pending, None
        reply = self.process.act(self.agent_id, int(state), int(step), observed)
        if "action" not in reply:
            raise AgentError(f"act() returned {reply.get('bad_action')} of type "
                             f"{reply.get('type')}; expected an int")
        return int(reply["action"])

    def observe(self, state, action, reward, next_state, terminated) -> None:
        self._pending = [int(state), int(action), float(reward), int(next_state),
                         bool(terminated)]

    def end_episode(self) -> None:
        self._call({"op": "end_episode"})

    def _policy(self) -> np.ndarray:
        reply, out = self.process.call({"op": "policy", "agent": self.agent_id})
        return _policy(reply, out)

    def _call(self, header: dict) -> dict:
        header = {**header, "agent": self.agent_id, "observe": self._pending}
        self._pending = None
        return self.process.call(header)[0]


def _policy(reply: dict, out: list[np.ndarray]) -> np.ndarray:
    if "bad_policy" in reply or len(out) != 1:
        raise AgentError(f"the policy is not a real numeric array (got "
                         f"{reply.get('bad_policy', 'nothing')})")
    return out[0]


def _info(info: TaskInfo) -> dict:
    fields = asdict(info)
    fields["reward_range"] = list(fields["reward_range"])
    return fields
