"""Private tasks of any shape: an MDP given as arrays in an ``.npz`` file.

The file holds ``P`` (S, A, S), ``mu0`` (S,) and either ``R`` (S, A) or ``R_next``
(S, A, S); optionally ``terminal`` (S,) booleans, ``reward_noise`` (a string:
``deterministic``, ``bernoulli`` or ``gaussian``) and ``reward_std`` (a number). Its path is
relative to the task file that names it, so a directory of task files and arrays moves as one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..mdp import TabularMDP, expected_reward

REQUIRED_KEYS = ("P", "mu0")
OPTIONAL_KEYS = ("R", "R_next", "terminal", "reward_noise", "reward_std")


def arrays(*, file: str, horizon: int, discount: float = 1.0, task_dir: Path = Path()
           ) -> TabularMDP:
    """The MDP stored in ``task_dir / file`` (see the module docstring)."""
    path = Path(task_dir) / file
    try:
        with np.load(path, allow_pickle=False) as data:  # no pickles: nothing is executed
            stored = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read arrays from {path}: {exc}") from None
    unknown = sorted(set(stored) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    missing = [k for k in REQUIRED_KEYS if k not in stored]
    if unknown or missing or ("R" in stored) == ("R_next" in stored):
        raise ValueError(f"{path} must hold P, mu0 and one of R or R_next (optional: "
                         f"terminal, reward_noise, reward_std); missing {missing}, unknown "
                         f"{unknown}, keys {sorted(stored)}")
    P = stored["P"].astype(float)
    R_next = stored["R_next"].astype(float) if "R_next" in stored else None
    if R_next is not None and R_next.shape != P.shape:
        raise ValueError(f"{path}: R_next has shape {R_next.shape}, P has {P.shape}: they "
                         "must match")
    R = expected_reward(P, R_next) if R_next is not None else stored["R"].astype(float)
    extra = {"reward_noise": str(stored["reward_noise"])} if "reward_noise" in stored else {}
    if "reward_std" in stored:
        extra["reward_std"] = float(stored["reward_std"])
    terminal = stored["terminal"].astype(bool) if "terminal" in stored else None
    return TabularMDP(P=P, R=R, mu0=stored["mu0"].astype(float), horizon=horizon,
                      discount=discount, terminal=terminal, R_next=R_next, **extra)
