"""What both protocols share: seeded random streams and validation of an agent's output."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from ..contract import TaskInfo

POLICY_SUM_TOL = 1e-6


class AgentError(RuntimeError):
    """An agent broke the contract: bad output, an exception, or too slow. The message says
    where (call, episode, step); the runner adds the agent, task and seed."""


def make_streams(task_digest: str, protocol: str, settings: dict, seed: int,
                 names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    """Independent generators, one per name, from one ``SeedSequence`` per run.

    The run is identified by (task digest, protocol, settings, seed) hashed with SHA-256, so
    streams are the same in any process, order or worker count, and the same for every
    submission (common random numbers: agents face the same environment draws).
    """
    key = json.dumps([task_digest, protocol, settings, int(seed)], sort_keys=True)
    entropy = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "little")
    children = np.random.SeedSequence(entropy).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def check_action(action, num_actions: int) -> int:
    """The action as an ``int``, or ``AgentError`` if it is not an integer in range."""
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise AgentError(f"act() returned {action!r} of type {type(action).__name__}; "
                         f"expected an int in range({num_actions})")
    if not 0 <= action < num_actions:
        raise AgentError(f"act() returned action {action}, outside range({num_actions})")
    return int(action)


def check_policy(policy, info: TaskInfo) -> np.ndarray:
    """The policy as a float array, or ``AgentError`` saying what is wrong with it."""
    S, A, H = info.num_states, info.num_actions, info.horizon
    allowed = [(S, A)] if info.objective == "discounted" else [(S, A), (H, S, A)]
    if np.iscomplexobj(policy):
        raise AgentError("policy has complex entries; expected real probabilities")
    try:
        arr = np.asarray(policy, dtype=np.float64)
    except (TypeError, ValueError):
        raise AgentError(f"policy is not a numeric array (got {type(policy).__name__})"
                         ) from None
    if arr.shape not in allowed:
        raise AgentError(f"policy has shape {arr.shape}; expected one of {allowed}")
    if not np.all(np.isfinite(arr)):
        raise AgentError(f"policy has a non-finite entry at index "
                         f"{tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])}")
    if arr.min() < 0:
        raise AgentError(f"policy has a negative probability at index "
                         f"{tuple(int(i) for i in np.argwhere(arr < 0)[0])}")
    sums = arr.sum(axis=-1)
    bad = np.argwhere(np.abs(sums - 1) > POLICY_SUM_TOL)
    if len(bad):
        i = tuple(int(k) for k in bad[0])
        raise AgentError(f"policy row {i} sums to {sums[i]!r}, not 1")
    return arr
