"""Uniform random: the zero of every normalised score.

Online it picks every action uniformly at random and offers the uniform policy as its
exploitation policy (so its exact policy curve is 0 by definition); offline it returns the
uniform policy whatever the data.
"""

import numpy as np

from rlbench_icl import Submission, TaskInfo


class RandomAgent:
    def __init__(self, info: TaskInfo, rng: np.random.Generator):
        self.info, self.rng = info, rng

    def act(self, state: int, step: int) -> int:
        return int(self.rng.integers(self.info.num_actions))

    def observe(self, state, action, reward, next_state, terminated) -> None:
        pass

    def end_episode(self) -> None:
        pass

    def policy(self) -> np.ndarray:
        return np.full((self.info.num_states, self.info.num_actions), 1 / self.info.num_actions)


def solve_offline(info: TaskInfo, dataset, rng: np.random.Generator) -> np.ndarray:
    return np.full((info.num_states, info.num_actions), 1 / info.num_actions)


SUBMISSION = Submission(
    name="random",
    version="1.0",
    make_online_agent=RandomAgent,
    solve_offline=solve_offline,
    authors="rlbench-icl developers",
    description="Uniform-random actions; the uniform policy offline.",
)
