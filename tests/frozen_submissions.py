"""Submissions that declare a frozen state: one keeps it, one changes it while it plays."""

import numpy as np

from rlbench_icl import Submission

WEIGHTS = {"kept": [1.0], "drifting": [1.0]}


class Agent:
    def __init__(self, info, rng, name):
        self.info, self.name = info, name

    def act(self, state, step):
        return 0

    def observe(self, *transition):
        pass

    def end_episode(self):
        WEIGHTS[self.name].append(0.0) if self.name == "drifting" else None

    def policy(self):
        return np.full((self.info.num_states, self.info.num_actions), 1 / self.info.num_actions)


def _state(name):
    return lambda: f"len-{len(WEIGHTS[name])}"


SUBMISSIONS = [
    Submission("frozen-kept", "1", lambda info, rng: Agent(info, rng, "kept"),
               frozen_state=_state("kept")),
    Submission("frozen-drifting", "1", lambda info, rng: Agent(info, rng, "drifting"),
               frozen_state=_state("drifting")),
]
