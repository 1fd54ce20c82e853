"""Confining an agent process's writes to its scratch directory, with Linux Landlock.

A sealed agent runs as the same user as the harness, so without more it could rewrite any
result file. Landlock (Linux >= 5.13, unprivileged) lets a process give up rights for good:
before the submission is imported, the agent process keeps the right to create, write,
truncate, rename and remove files only beneath its scratch directory (and to write to
devices such as /dev/null). Reading stays allowed everywhere (imports, checkpoints). Files
opened before (its pipes, its log) stay usable.

Three system calls through ``ctypes``, as the kernel documents them; no library wraps
Landlock for Python in the standard library, and none on PyPI is maintained enough to
depend on. Where the kernel lacks Landlock, ``confine_writes`` returns False and the run
goes on unconfined (``run`` says which).
"""

from __future__ import annotations

import ctypes
import os
import platform

_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

_WRITE_FILE = 1 << 1
_REMOVE_DIR, _REMOVE_FILE = 1 << 4, 1 << 5
_MAKE = sum(1 << bit for bit in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 if it has none."""
    calls = _SYSCALLS.get(platform.machine())
    if calls is None:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(calls[0], None, ctypes.c_size_t(0),
                           ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def confine_writes(scratch: str, devices: str = "/dev") -> bool:
    """Allow this process to write only beneath ``scratch`` (and to existing files under
    ``devices``), for good; False if the kernel has no Landlock."""
    abi = landlock_abi()
    if abi < 1:
        return False
    create, add_rule, restrict = _SYSCALLS[platform.machine()]
    handled = _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE
    handled |= (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0)
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.c_uint64(handled)  # struct landlock_ruleset_attr, first field only
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        _allow(libc, add_rule, ruleset, scratch, handled)
        _allow(libc, add_rule, ruleset, devices,
               _WRITE_FILE | (_TRUNCATE if abi >= 3 else 0))
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(restrict, ruleset, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return True


def _allow(libc, add_rule: int, ruleset: int, path: str, access: int) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rule = _PathBeneath(access, fd)
        if libc.syscall(add_rule, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule),
                        ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule({path}) failed")
    finally:
        os.close(fd)
