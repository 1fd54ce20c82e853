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
