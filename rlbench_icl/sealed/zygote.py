"""A fork server for agent processes: ``python -m rlbench_icl.sealed.zygote SOCKET_FD``.

Starting a fresh interpreter and importing numpy and rlbench_icl costs about half a second,
which a grid of short runs pays per run. The zygote pays it once: it imports them, builds no
task, and forks one child per agent process. The harness sends it, over a Unix socket, the
child's pipe ends and log file (as file descriptors) with its limits; the child starts a
session of its own (a process group the harness kills as one) and serves the agent
(``host.serve``). The zygote reaps its children and reports how each ended.

The zygote exits when the harness closes its socket; a child left behind sees its pipe
close and exits too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

MAX_REQUEST = 1 << 20


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness's to handle
    import numpy  # noqa: F401 - preloaded, so that children start warm

    import rlbench_icl  # noqa: F401

    from . import host  # noqa: F401

    channel = socket.socket(fileno=int(argv[0]))
    statuses: dict[int, int] = {}
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(channel, MAX_REQUEST, 4)
        except OSError:
            return 0
        if not data:
            return 0
        request = json.loads(data)
        if request["op"] == "fork":
            reply = {"pid": _fork(channel, fds, request["limits"], request["environ"])}
        else:  # "status": how a child ended, None while it runs
            reply = {"status": _status(request["pid"], statuses)}
        channel.sendall(json.dumps(reply).encode())


def _fork(channel: socket.socket, fds: list[int], limits: dict, environ: dict) -> int:
    in_fd, out_fd, log_fd = fds
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            channel.close()
            os.setsid()
            _keep_niceness()
            os.environ.clear()  # the harness's environment now, not when the zygote started
            os.environ.update(environ)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            from .host import serve

            code = serve(in_fd, out_fd, limits)
        except BaseException:  # noqa: BLE001 - report in the log, exit non-zero
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    return pid


def _status(pid: int, statuses: dict[int, int]) -> int | None:
    """The child's exit code (negative: the signal that killed it) once it has ended,
    reaping it; None while it runs."""
    if pid not in statuses:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not a child of ours, or already reported
            return None
        if done == 0:
            return None
        statuses[pid] = os.waitstatus_to_exitcode(status)
    return statuses[pid]


def _keep_niceness() -> None:
    """A new session is a new scheduling autogroup on Linux (when autogroups are on), and an
    autogroup's weight ignores the niceness of its processes: without this, the agents of a
    harness started with ``nice -n 19`` would compete at full weight. Give the agent's new
    autogroup the process's own niceness (best effort: no autogroups, no change)."""
    try:
        with open("/proc/self/autogroup", "w") as group:
            group.write(str(os.getpriority(os.PRIO_PROCESS, 0)))
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
