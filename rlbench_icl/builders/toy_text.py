"""Gymnasium toy-text tasks converted from ``env.unwrapped.P`` to exact arrays."""

from __future__ import annotations

import gymnasium
import numpy as np

from ..mdp import TabularMDP, expected_reward, make_absorbing


def gymnasium_toy_text(*, env_id: str, horizon: int, discount: float = 1.0,
                       **env_kwargs) -> TabularMDP:
    """Convert a gymnasium toy-text env (FrozenLake, CliffWalking, Taxi) to a ``TabularMDP``.

    Gymnasium's ``P[s][a]`` lists ``(prob, next_state, reward, terminated)``. A successor
    that ends the episode becomes a terminal state (absorbing, reward 0 afterwards); rewards
    paid on a transition become ``R_next[s, a, s']``; ``mu0`` is the env's
    ``initial_state_distrib``.
    """
    if ":" in env_id:  # gymnasium would import the module named before the colon
        raise ValueError(f"env_id {env_id!r} must name a registered gymnasium environment; "
                         "a task file never imports code")
    env = gymnasium.make(env_id, **env_kwargs).unwrapped
    S, A = env.observation_space.n, env.action_space.n
    P, R_next = np.zeros((S, A, S)), np.zeros((S, A, S))
    ends = np.zeros((S, A, S), dtype=bool)
    for s in range(S):
        for a in range(A):
            for prob, s_next, reward, done in env.P[s][a]:
                P[s, a, s_next] += prob
                if prob > 0 and P[s, a, s_next] > prob and R_next[s, a, s_next] != reward:
                    raise ValueError(f"{env_id}: ({s}, {a}) -> {s_next} has two rewards")
                R_next[s, a, s_next] = reward
                ends[s, a, s_next] = bool(done)
    mu0 = np.asarray(env.initial_state_distrib, dtype=float)
    env.close()
    # Only transitions from states an episode can reach count: Taxi's P also describes moves
    # after a drop-off, from states no episode ever visits.
    live = _reachable(mu0 > 0, (P > 0) & ~ends)
    terminal = (ends & live[:, None, None]).any(axis=(0, 1))
    mixed = np.argwhere((P > 0) & ~ends & terminal[None, None, :] & live[:, None, None])
    if len(mixed):
        s, a, s_next = mixed[0]
        raise ValueError(f"{env_id}: ({s}, {a}) -> {s_next} does not end the episode, but "
                         f"other transitions into {s_next} do")
    P, _ = make_absorbing(P, np.zeros((S, A)), terminal)
    R_next[terminal] = 0.0
    return TabularMDP(P=P, R=expected_reward(P, R_next), mu0=mu0, horizon=horizon,
                      discount=discount, terminal=terminal, R_next=R_next)


def _reachable(start: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(S,) mask of states reachable from ``start`` along ``edges[s, a, s']``."""
    step = edges.any(axis=1)
    seen = start.copy()
    frontier = start.copy()
    while frontier.any():
        frontier = step[frontier].any(axis=0) & ~seen
        seen |= frontier
    return seen
