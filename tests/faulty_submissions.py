"""Submissions that pass the conformance check (small MDPs) but break on tasks with S > 10."""

import os
import time

import numpy as np

from rlbench_icl import Submission


class Faulty:
    def __init__(self, info, rng, fault):
        self.info, self.rng, self.fault = info, rng, fault
        self.broken = info.num_states > 10

    def act(self, state, step):
        if self.broken and step == 3:
            if self.fault == "raises":
                raise RuntimeError("boom")
            if self.fault == "hangs":
                time.sleep(60)
            if self.fault == "exits":
                os._exit(3)
            if self.fault == "bad-action":
                return self.info.num_actions
            if self.fault == "float-action":
                return 0.0
        return int(self.rng.integers(self.info.num_actions))

    def observe(self, *transition):
        pass

    def end_episode(self):
        pass

    def policy(self):
        S, A = self.info.num_states, self.info.num_actions
        if self.broken and self.fault == "bad-policy":
            return np.full((S + 1, A), 1 / A)
        if self.broken and self.fault == "nan-policy":
            return np.full((S, A), np.nan)
        return np.full((S, A), 1 / A)


def make(fault):
    def solve_offline(info, dataset, rng):
        if info.num_states > 10 and fault == "raises":
            raise RuntimeError("offline boom")
        return np.full((info.num_states, info.num_actions), 1 / info.num_actions)

    return Submission(name=f"faulty-{fault}", version="0",
                      make_online_agent=lambda info, rng: Faulty(info, rng, fault),
                      solve_offline=solve_offline)


SUBMISSIONS = [make(f) for f in ("raises", "hangs", "exits", "bad-action", "float-action",
                                 "bad-policy", "nan-policy")]
