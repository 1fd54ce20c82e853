"""Submissions that attack the harness (issue 24). Each passes as an honest agent on the
conformance check's tiny tasks (S <= 5) and attacks on anything larger."""

import ctypes
import os
import subprocess
import sys
import time

import numpy as np

from rlbench_icl import Submission

MARKER = "rlbench-icl-attack-orphan"
ORPHAN = [sys.executable, "-I", "-c", "import time; time.sleep(300)", MARKER]
"""A process that lives five minutes with MARKER on its command line (``sleep 300 MARKER``
would refuse the extra argument and exit at once, leaving nothing behind to find)."""


class Honest:
    """Uniform random actions, a uniform policy."""

    def __init__(self, info, rng):
        self.info, self.rng = info, rng
        self.attacking = info.num_states > 5

    def act(self, state, step):
        return int(self.rng.integers(self.info.num_actions))

    def observe(self, *transition):
        pass

    def end_episode(self):
        pass

    def policy(self):
        S, A = self.info.num_states, self.info.num_actions
        return np.full((S, A), 1.0 / A)


class FrameWalker(Honest):
    """Walks up the call stack to the harness's task: hands back its optimal policy and
    overwrites the returns recorded so far with the optimal value."""

    def policy(self):
        frame = sys._getframe(1)
        while frame is not None:
            task = frame.f_locals.get("task")
            if task is not None and hasattr(task, "optimal_policy"):
                returns = frame.f_locals.get("returns")
                if isinstance(returns, list):
                    returns[:] = [task.return_bounds[0]] * len(returns)
                return np.asarray(task.optimal_policy)[0] if task.optimal_policy.ndim == 3 \
                    else task.optimal_policy
            frame = frame.f_back
        return super().policy()


class RegistryReader(Honest):
    """Builds the task it is playing from the registry (identified by its sizes)."""

    def policy(self):
        if not self.attacking:
            return super().policy()
        import rlbench_icl

        registry = rlbench_icl.default_registry()
        for task_id in registry.select("all"):
            spec = registry.spec(task_id)
            if spec.horizon == self.info.horizon:
                task = registry.make(task_id)
                if (task.mdp.num_states, task.mdp.num_actions) == (
                        self.info.num_states, self.info.num_actions):
                    policy = task.optimal_policy
                    return policy[0] if policy.ndim == 3 else policy
        return super().policy()


class Misbehaving(Honest):
    """Misbehaves in the way its name says, at its first action on a large task."""

    kind = ""

    def act(self, state, step):
        if self.attacking:
            getattr(self, f"_{self.kind.replace('-', '_')}")()
        return super().act(state, step)

    def _swallows_timeout(self):
        while True:
            try:
                time.sleep(0.05)
            except BaseException:  # noqa: BLE001 - the attack
                pass

    def _eats_memory(self):
        self.hoard = np.ones(2**30 // 8)  # 1 GiB

    def _sys_exit(self):
        sys.exit(0)

    def _os_exit(self):
        os._exit(0)

    def _segfault(self):
        ctypes.string_at(0)

    def _keyboard_interrupt(self):
        raise KeyboardInterrupt

    def _bad_repr(self):
        class Nasty(Exception):
            def __repr__(self):
                raise RuntimeError("repr raised")

            __str__ = __repr__

        raise Nasty()

    def _huge_message(self):
        raise RuntimeError("x" * 50_000_000)

    def _writes_elsewhere(self):
        with open(os.environ["RLBENCH_ICL_ATTACK_TARGET"], "w") as f:
            f.write("tampered")

    def _leaves_orphan(self):
        subprocess.Popen(ORPHAN)
        os._exit(0)


def _misbehaving(kind):
    return type(f"Misbehaving_{kind}", (Misbehaving,), {"kind": kind})


EXITS = ("sys-exit", "os-exit", "segfault", "eats-memory", "swallows-timeout",
         "keyboard-interrupt", "leaves-orphan")
FIRST_EXIT_STATES = 6


class ExitsByTask(Misbehaving):
    """Ends in the way ``EXITS[S - FIRST_EXIT_STATES]`` says on a task of S states, and
    plays honestly on any other: one grid over tasks of several sizes meets every exit."""

    def __init__(self, info, rng):
        super().__init__(info, rng)
        index = info.num_states - FIRST_EXIT_STATES
        self.attacking = 0 <= index < len(EXITS)
        self.kind = EXITS[index] if self.attacking else ""


KINDS = ("swallows-timeout", "eats-memory", "sys-exit", "os-exit", "segfault",
         "keyboard-interrupt", "bad-repr", "huge-message", "leaves-orphan",
         "writes-elsewhere")

SUBMISSIONS = [
    Submission("frame-walker", "1", FrameWalker),
    Submission("registry-reader", "1", RegistryReader),
    *[Submission(f"attack-{kind}", "1", _misbehaving(kind)) for kind in KINDS],
    Submission("attack-exits-by-task", "1", ExitsByTask),
]
