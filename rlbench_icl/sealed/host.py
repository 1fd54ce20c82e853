"""The agent's side of a sealed run: ``python -m rlbench_icl.sealed.host IN_FD OUT_FD``.

It applies the limits it is given, seals the process (no task can be built in it), loads
the one submission the harness names, and then serves the harness's requests until told to
stop: build an online agent, act, end an episode, hand back a policy, solve an offline
dataset, report a frozen state. Whatever the agent raises, ``SystemExit`` and
``KeyboardInterrupt`` included, goes back to the harness as an error message; a process
that dies (``os._exit``, a signal, a limit) is seen by the harness as a closed pipe.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback

import numpy as np

from ..errors import RlbenchIclError
from ..errors import bounded as _bounded

LIMITS_ENV = "RLBENCH_ICL_AGENT_LIMITS"
MAX_MESSAGE = 2_000
MAX_TRACEBACK = 20_000
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def main(argv: list[str]) -> int:
    """``python -m rlbench_icl.sealed.host IN_FD OUT_FD``, limits in ``LIMITS_ENV``."""
    return serve(int(argv[0]), int(argv[1]), json.loads(os.environ.get(LIMITS_ENV, "{}")))


def serve(in_fd: int, out_fd: int, limits: dict) -> int:
    """Apply ``limits``, confine writes to the scratch directory, seal this process, then
    answer requests until told to stop."""
    _apply_limits(limits)
    if limits.get("scratch"):
        _confine(limits["scratch"])
    from .. import _seal

    _seal.seal()
    from . import wire

    reader, writer = os.fdopen(in_fd, "rb"), os.fdopen(out_fd, "wb")
    host = Host()
    while True:
        try:
            header, arrays = wire.receive(reader)
        except EOFError:
            return 0
        if header.get("op") == "close":
            return 0
        try:
            reply, out = host.handle(header, arrays)
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the harness
            reply, out = error_reply(exc, header.get("op")), []
        if set(reply) == {"action"}:
            wire.send_action(writer, reply["action"])
        else:
            wire.send(writer, reply, out)


def _apply_limits(limits: dict) -> None:
    """Address space and CPU time, enforced by the kernel from here on."""
    if limits.get("memory_bytes"):
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    if limits.get("cpu_seconds"):
        seconds = int(limits["cpu_seconds"]) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))


def _confine(scratch: str) -> None:
    """Temporary files and caches go to the scratch directory, the only place this process
    may write once ``confine_writes`` holds."""
    import tempfile

    for name in ("TMPDIR", "TEMP", "TMP", "XDG_CACHE_HOME", "MPLCONFIGDIR"):
        os.environ[name] = scratch
    tempfile.tempdir = scratch
    from .confine import confine_writes

    confine_writes(scratch)


def error_reply(exc: BaseException, op: str | None) -> dict:
    """``{"error", "traceback"}`` for anything raised, bounded, even if formatting fails."""
    try:  # the package's own errors are complete sentences; anything else, its repr
        message = str(exc) if isinstance(exc, RlbenchIclError) else repr(exc)
    except BaseException:  # noqa: BLE001 - an exception whose repr raises
        message = f"<{type(exc).__name__} whose repr raised>"
    if isinstance(exc, MemoryError):
        message += " (the agent process ran out of memory: see --memory)"
    try:
        trace = traceback.format_exc()
    except BaseException:  # noqa: BLE001 - e.g. a MemoryError while formatting
        trace = ""
    return {"error": _bounded(message, MAX_MESSAGE), "op": op,
            "traceback": _bounded(trace, MAX_TRACEBACK)}


class Host:
    """The requests of one sealed agent process (see the module docstring)."""

    def __init__(self):
        self.submission = None
        self.agents: dict[int, object] = {}
        self.rngs: dict[int, np.random.Generator] = {}

    def handle(self, header: dict, arrays: list[np.ndarray]) -> tuple[dict, list]:
        op = header.get("op")
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise ValueError(f"unknown request {op!r}")
        return handler(header, arrays)

    def op_load(self, header, arrays):
        from ..discovery import load

        self.submission = load(header["ref"])
        return {"metadata": self.submission.metadata(),
                "frozen_state": self.submission.frozen_state is not None,
                "files": [str(f) for f in self.submission.files]}, []

    def op_online(self, header, arrays):
        agent = self.submission.make_online_agent(_info(header["info"]),
                                                  self._rng(header["rng"]))
        self.agents[header["agent"]] = agent
        methods = [m for m in ("act", "observe", "end_episode", "policy")
                   if callable(getattr(agent, m, None))]
        return {"methods": methods}, []

    def op_act(self, header, arrays):
        agent = self._observed(header)
        action = agent.act(header["state"], header["step"])
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
            return {"bad_action": _bounded(repr(action), 200),
                    "type": type(action).__name__}, []
        if not -2**63 <= action < 2**63:
            return {"bad_action": _bounded(repr(action), 200), "type": "int out of range"}, []
        return {"action": int(action)}, []

    def op_end_episode(self, header, arrays):
        self._observed(header).end_episode()
        return {}, []

    def op_policy(self, header, arrays):
        return policy_reply(self.agents[header["agent"]].policy())

    def op_offline(self, header, arrays):
        from ..contract import Dataset

        dataset = Dataset(*arrays, num_episodes=header["num_episodes"])
        return policy_reply(self.submission.solve_offline(
            _info(header["info"]), dataset, self._rng(header["rng"])))

    def op_frozen_state(self, header, arrays):
        state = self.submission.frozen_state()
        if not isinstance(state, str):
            return {"bad_state": _bounded(repr(state), 200)}, []
        return {"state": state}, []

    def _observed(self, header):
        """The agent, after the transition the harness batched with this request."""
        agent = self.agents[header["agent"]]
        if header.get("observe") is not None:
            s, a, r, s_next, terminated = header["observe"]
            agent.observe(s, a, r, s_next, terminated)
        return agent

    def _rng(self, spec: dict) -> np.random.Generator:
        """The generator the harness gave: its state on first use, then by id, so that an
        agent's draws continue across calls as they would in one process."""
        if "state" in spec:
            state = spec["state"]
            name = state["bit_generator"]
            if name not in BIT_GENERATORS:
                raise ValueError(f"unknown bit generator {name!r}")
            bit_generator = getattr(np.random, name)()
            bit_generator.state = state
            self.rngs[spec["id"]] = np.random.Generator(bit_generator)
        return self.rngs[spec["id"]]


def _info(fields: dict):
    from ..contract import TaskInfo

    return TaskInfo(**{**fields, "reward_range": tuple(fields["reward_range"])})


def policy_reply(policy) -> tuple[dict, list]:
    """The policy as a plain numeric array, or what it is instead."""
    try:
        array = np.asarray(policy)
    except BaseException:  # noqa: BLE001 - whatever the agent returned
        return {"bad_policy": type(policy).__name__}, []
    if array.dtype.kind not in "biuf" or array.dtype.fields is not None:
        return {"bad_policy": f"{type(policy).__name__} of dtype {array.dtype}"}, []
    return {}, [array]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
