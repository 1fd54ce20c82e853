"""Every task is a real gymnasium environment whose samples match its model."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlbench_icl  # noqa: F401  (registers the environments)
from rlbench_icl import Simulator, default_registry

IDS = default_registry().select("all")


@pytest.mark.parametrize("task_id", IDS)
def test_gymnasium_make_and_env_checker(task_id):
    env = gymnasium.make(f"rlbench_icl/{task_id}")
    check_env(env.unwrapped, skip_render_check=True)
    task = env.unwrapped.task
    assert env.spec.max_episode_steps == task.mdp.horizon
    state, _ = env.reset(seed=0)
    assert task.mdp.mu0[state] > 0


@pytest.mark.parametrize("task_id", ["FrozenLake4x4-v0", "RiverSwim6-v0", "Bandit10-v0"])
def test_truncates_at_horizon_or_terminates(task_id):
    env = gymnasium.make(f"rlbench_icl/{task_id}").unwrapped
    H = env.mdp.horizon
    env.reset(seed=1)
    env.action_space.seed(1)
    for t in range(1, H + 1):
        s, r, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated:
            assert env.mdp.terminal[s] and not truncated
            return
        assert truncated == (t == H)


@pytest.mark.parametrize("task_id", ["FrozenLake4x4-v0", "GarnetS20A3B2-v0", "Bandit10-v0",
                                     "DistractorChain12-v0"])
def test_sampled_dynamics_match_the_model(task_id):
    mdp = default_registry().make(task_id).mdp
    sim = Simulator(mdp, np.random.default_rng(123))
    n = 4000
    for s in range(min(mdp.num_states, 4)):
        if mdp.terminal[s]:
            continue
        for a in range(mdp.num_actions):
            draws = [sim.step(s, a) for _ in range(n)]
            counts = np.bincount([d[1] for d in draws], minlength=mdp.num_states)
            rewards = np.array([d[0] for d in draws])
            # 5 standard errors: a fixed seed, so this either always passes or never does.
            se = np.sqrt(mdp.P[s, a] * (1 - mdp.P[s, a]) / n)
            assert np.all(np.abs(counts / n - mdp.P[s, a]) <= 5 * se + 1e-12)
            r_se = max(rewards.std(), 1e-12) / np.sqrt(n)
            assert abs(rewards.mean() - mdp.R[s, a]) <= 5 * r_se + 1e-12


def test_initial_states_follow_mu0():
    mdp = default_registry().make("Taxi-v0").mdp
    sim = Simulator(mdp, np.random.default_rng(7))
    starts = np.bincount([sim.reset() for _ in range(30000)], minlength=mdp.num_states)
    assert set(np.flatnonzero(starts)) == set(np.flatnonzero(mdp.mu0))
    assert np.abs(starts / 30000 - mdp.mu0).max() < 0.004


def test_same_seed_same_trajectory():
    def rollout(seed):
        env = gymnasium.make("rlbench_icl/FrozenLake8x8-v0")
        s, _ = env.reset(seed=seed)
        out = [s]
        for t in range(300):
            s, r, term, trunc, _ = env.step(t % 4)
            out += [s, r]
            if term or trunc:
                s, _ = env.reset()
        return out
    assert rollout(5) == rollout(5) != rollout(6)
