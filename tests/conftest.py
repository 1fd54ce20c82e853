# isort: off
import rlbench_icl  # noqa: F401 - before numpy, so this process runs it without AVX-512 (cpu.py)
# isort: on
from pathlib import Path

import numpy as np
import pytest

from rlbench_icl import TabularMDP


@pytest.fixture
def two_state_mdp() -> TabularMDP:
    """State 0: action 0 stays (reward 1), action 1 moves to state 1 (reward 0).
    State 1: both actions stay, reward 2 for action 0 and 0 for action 1."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 1] = P[1, 1, 1] = 1.0
    R = np.array([[1.0, 0.0], [2.0, 0.0]])
    return TabularMDP(P=P, R=R, mu0=np.array([1.0, 0.0]), horizon=3)


TINY_TASKS = """
[[task]]
id = "TinyChain-v0"
description = "tiny"
tags = ["tiny"]
builder = "riverswim"
horizon = 6
episodes = 8
[task.params]
num_states = 4
[task.offline]
dataset_episodes = [2, 4]
epsilons = [1.0, 0.1]

[[task]]
id = "TinyBandit-v0"
description = "tiny"
tags = ["tiny"]
builder = "bernoulli_bandit"
horizon = 3
episodes = 8
[task.params]
means = [0.2, 0.8, 0.5]
[task.offline]
dataset_episodes = [2, 4]
epsilons = [1.0, 0.1]
"""


@pytest.fixture(scope="session")
def tiny_tasks(tmp_path_factory) -> Path:
    """A private task directory with two tiny tasks tagged ``tiny`` (fast grids)."""
    directory = tmp_path_factory.mktemp("tiny-tasks")
    (directory / "tiny.toml").write_text(TINY_TASKS)
    return directory
