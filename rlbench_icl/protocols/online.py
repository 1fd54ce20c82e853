"""The online protocol: K episodes of at most H steps, the harness sampling every transition.

Recorded per episode: the realised return ``sum_{t<H} gamma**t r_t`` and, for agents that
offer ``policy()``, the exact value of that policy after the episode. Derived scores:

- normalised return ``(G_k - V_rand) / (V* - V_rand)`` with H-step values (``Task.return_bounds``:
  for ``discounted`` tasks the infinite-horizon values would not make random score 0), and
  the policy curve with the task's exact values; online score = mean normalised return over the K
  episodes (the area under the learning curve); final score = its mean over the last 10%;
- cumulative regret ``sum_k (V*_H - G_k)`` in the task's reward units;
- episodes-to-solve (Zighem & Vie 2026): the first episode (1-based) of the first run of 8
  consecutive episodes scoring >= 0.95, scored by the exact normalised value of the
  exploitation policy where the agent offers one, else by a 10-episode moving average of
  normalised returns (noisier; the record says which). None if never solved within K.
- episodes-to-threshold (DESIGN): the first episode k from which the moving average reaches
  0.9, i.e. episodes k..k+9 average >= 0.9 (a forward window, unlike the trailing average
  above, so the two can differ by up to 9 episodes). Computed by the leaderboard from the
  stored returns (``episodes_to_threshold``), not stored, so earlier result files stay valid.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ..contract import Submission, TaskInfo
from ..simulate import Simulator
from ..tasks import Task
from .common import AgentError, check_action, check_policy, make_streams

SOLVE_THRESHOLD = 0.95
SOLVE_RUN = 8
MOVING_AVERAGE = 10
THRESHOLD = 0.9
FINAL_FRACTION = 0.1


@dataclass(frozen=True)
class OnlineSettings:
    """Online protocol settings.

    Attributes:
        num_episodes: K, the episode budget.
    """

    num_episodes: int

    def to_dict(self) -> dict:
        return asdict(self)


def run_online(task: Task, submission: Submission, settings: OnlineSettings, seed: int,
               deadline: float | None = None) -> dict:
    """Run one online run; returns ``{"episodes": ..., "scores": ...}``.

    Raises:
        AgentError: the agent raised, returned an invalid action or policy, or passed
            ``deadline`` (a ``time.monotonic()`` value). The message names call, episode, step.
    """
    streams = make_streams(task.digest, "online", settings.to_dict(), seed, ("env", "agent"))
    info = TaskInfo.from_task(task, settings.num_episodes)
    cursor = {"call": "make_online_agent", "episode": None, "step": None}
    try:
        agent = submission.make_online_agent(info, streams["agent"])
        returns, values = _play(task, info, agent, Simulator(task.mdp, streams["env"]),
                                cursor, deadline)
    except Exception as exc:
        where = ", ".join(f"{k} {v}" for k, v in cursor.items() if v is not None)
        raise AgentError(f"{where}: {exc if isinstance(exc, AgentError) else repr(exc)}"
                         ) from exc
    return {"episodes": {"returns": returns, "policy_values": values},
            "scores": online_scores(task, returns, values)}


def _play(task, info, agent, simulator, cursor, deadline):
    has_policy = callable(getattr(agent, "policy", None))
    # Python's ** (the C library's pow), not numpy's, whose kernels depend on the CPU
    discounts = [info.discount ** t for t in range(info.horizon)]
    returns, values = [], ([] if has_policy else None)
    last_policy, last_value = None, None
    for k in range(info.num_episodes):
        cursor.update(episode=k, step=None)
        state, ret = simulator.reset(), 0.0
        for h in range(info.horizon):
            cursor.update(call="act", step=h)
            action = check_action(agent.act(state, h), info.num_actions)
            reward, next_state, terminated = simulator.step(state, action)
            cursor["call"] = "observe"
            agent.observe(state, action, reward, next_state, terminated)
            ret += discounts[h] * reward
            if terminated:
                break
            state = next_state
        if deadline is not None and time.monotonic() > deadline:
            raise AgentError("the run passed its time limit")
        cursor.update(call="end_episode", step=None)
        agent.end_episode()
        returns.append(ret)
        if has_policy:
            cursor["call"] = "policy"
            policy = check_policy(agent.policy(), info)
            if last_policy is None or not np.array_equal(policy, last_policy):
                # a copy: an agent may update the array it returned in place
                last_policy, last_value = policy.copy(), task.policy_value(policy)
            values.append(last_value)
    return returns, values


def online_scores(task: Task, returns: list[float], policy_values: list[float] | None
                  ) -> dict:
    """Derived scores of one run (see the module docstring)."""
    normalised = task.normalise_return(np.asarray(returns, dtype=float))
    K = len(normalised)
    last = max(1, int(np.ceil(FINAL_FRACTION * K)))
    if policy_values is not None:
        curve, source = task.normalise(np.asarray(policy_values, dtype=float)), "policy"
    else:
        kernel = np.ones(MOVING_AVERAGE)
        counts = np.convolve(np.ones(K), kernel)[:K]
        curve, source = np.convolve(normalised, kernel)[:K] / counts, "moving-average-return"
    return {
        "online_score": float(normalised.mean()),
        "final_score": float(normalised[-last:].mean()),
        "cumulative_regret": float(np.sum(task.return_bounds[0] - np.asarray(returns))),
        "episodes_to_solve": episodes_to_solve(curve),
        "episodes_to_solve_source": source,
    }


def episodes_to_threshold(normalised: np.ndarray, threshold: float = THRESHOLD,
                          window: int = MOVING_AVERAGE) -> int | None:
    """First episode k (1-based) whose window of episodes k..k+window-1 has a mean
    normalised return >= threshold; None if no full window does."""
    normalised = np.asarray(normalised, dtype=float)
    if len(normalised) < window:
        return None
    means = np.convolve(normalised, np.ones(window), mode="valid") / window
    hits = np.nonzero(means >= threshold - 1e-12)[0]  # 0.9 must not miss by an ulp
    return int(hits[0]) + 1 if len(hits) else None


def episodes_to_solve(curve: np.ndarray, threshold: float = SOLVE_THRESHOLD,
                      run: int = SOLVE_RUN) -> int | None:
    """First episode (1-based) starting ``run`` consecutive scores >= threshold, else None."""
    streak = 0
    for k, ok in enumerate(np.asarray(curve) >= threshold):
        streak = streak + 1 if ok else 0
        if streak == run:
            return k - run + 2
    return None
