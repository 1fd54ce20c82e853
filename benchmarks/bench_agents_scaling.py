"""Time and peak memory of reference agents on large sparse tasks (issue 23, tabular at scale).

For S in 10^3, 10^4, 10^5 (and 10^6 with ``--huge``) a random Garnet-like model is built here
with numpy: A = 4, 5 successors per pair with Dirichlet(1) probabilities, Bernoulli rewards
with means uniform in [0, 1], uniform start state, no terminal state, horizon H = 50. It is
simulated by a small numpy sampler in this file (independent of the harness's simulator).
Measured, each in a fresh child process:

- ``ucbvi``, ``psrl``, ``qlearning-ucb`` and ``rmax-plan``: 20 online episodes; after each,
  ``end_episode()`` and ``policy()``, as the harness calls them;
- ``vi-lcb``, ``plugin``, ``rmax-plan:offline`` and ``gnn-fm:offline``: one offline solve on
  a dataset of 2 S A transitions (uniform-random play); gnn-fm's is one forward pass per
  planned step (35 at H = 50, ``rlbench_icl.fm.policy.step_plan``);
- ``vi-lcb-paper``: one offline solve; its discounted planning (policy iteration) solved
  each evaluation with a sparse LU, which fills in (24 s and 0.6 GB at S = 10^4, 208 s and
  2.3 GB at 2 x 10^4); above ``dynprog.SPSOLVE_MAX_STATES`` (5,000) it now iterates;
- ``fm-refresh``: one policy refresh of gnn-fm's online agent, as after an episode
  (``end_episode()``: featurize with the planner inputs, then its two forward passes, with
  and without the bonus), on the statistic of 5 episodes of uniform-random play. The peak
  includes the refresh the agent makes on its empty statistic when it is made;
- ``fm-featurize``: the network input of that refresh alone (the statistic's reading,
  successor lists and planner inputs), without the network: the rest of ``fm-refresh`` is
  the forward passes.

Each is measured with the experience statistic's counts forced ``sparse``
(``DENSE_MAX_BYTES = 0``) and, where it fits (S <= 2000), forced ``dense``: the (S, A, S)
storage and code path of the statistic before issue 23. (Left alone, the statistic is dense
while its counts take at most 64 MiB: S <= 1448 at A = 4.) Columns: CPU seconds of the
agent's work (the online sampler's few microseconds a step included), the child's peak
resident memory (``ru_maxrss``), and its resident memory just before the agent started
(imports, model, dataset), so that the difference is the agent's. For the code path before
issue 23's rmax-plan and FM changes, run this script with that library first on
``PYTHONPATH``.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_agents_scaling.py [--huge] [--episodes 20]
           [--sizes S ...] [--agents NAME ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
from tabulate import tabulate

NUM_ACTIONS, SUCCESSORS, HORIZON = 4, 5, 50
DENSE_UP_TO = 2000  # largest S measured with dense storage (S * A * S * 8 = 128 MB)
MEASURES = ("ucbvi", "psrl", "qlearning-ucb", "vi-lcb", "plugin", "vi-lcb-paper", "rmax-plan",
            "rmax-plan:offline", "fm-featurize", "fm-refresh", "gnn-fm:offline")
WITHOUT_STATISTIC = ("qlearning-ucb",)  # its tables are (H, S, A): measured once
FM_EPISODES = 5  # episodes of uniform-random play in the statistic an FM refresh reads


def make_model(rng: np.random.Generator, num_states: int) -> dict:
    """A random sparse model: successors (S, A, k), their cumulative probabilities, R (S, A)."""
    shape = (num_states, NUM_ACTIONS)
    cdf = np.cumsum(rng.dirichlet(np.ones(SUCCESSORS), size=shape), axis=-1)
    return {"successors": rng.integers(num_states, size=(*shape, SUCCESSORS)), "cdf": cdf,
            "R": rng.random(shape)}


def step(model: dict, rng: np.random.Generator, states: np.ndarray, actions: np.ndarray):
    """Next states and Bernoulli rewards for arrays of (state, action)."""
    cdf = model["cdf"][states, actions]  # (N, k)
    pick = np.minimum((rng.random((len(states), 1)) > cdf).sum(axis=1), SUCCESSORS - 1)
    next_states = model["successors"][states, actions, pick]
    rewards = (rng.random(len(states)) < model["R"][states, actions]).astype(np.float64)
    return next_states, rewards


def task_info(num_states: int, num_episodes: int):
    from rlbench_icl import TaskInfo

    return TaskInfo(num_states=num_states, num_actions=NUM_ACTIONS, horizon=HORIZON,
                    discount=1.0, objective="finite", reward_range=(0.0, 1.0),
                    reward_noise="bernoulli", num_episodes=num_episodes)


def run_online_episodes(agent, model: dict, rng: np.random.Generator, num_episodes: int):
    num_states = len(model["R"])
    for _ in range(num_episodes):
        state = int(rng.integers(num_states))
        for h in range(HORIZON):
            action = agent.act(state, h)
            next_state, reward = step(model, rng, np.array([state]), np.array([action]))
            agent.observe(state, action, float(reward[0]), int(next_state[0]), False)
            state = int(next_state[0])
        agent.end_episode()
        agent.policy()


def make_dataset(model: dict, rng: np.random.Generator, num_transitions: int):
    """Whole episodes of uniform-random play, about ``num_transitions`` transitions."""
    from rlbench_icl import Dataset

    num_states = len(model["R"])
    walkers = max(1, num_transitions // HORIZON)
    state = rng.integers(num_states, size=walkers)
    columns = {"states": [], "actions": [], "rewards": [], "next_states": []}
    for _ in range(HORIZON):
        action = rng.integers(NUM_ACTIONS, size=walkers)
        next_state, reward = step(model, rng, state, action)
        for name, value in zip(columns, (state, action, reward, next_state), strict=True):
            columns[name].append(value)
        state = next_state
    # episode-major order, as the harness stores datasets
    arrays = {k: np.stack(v, axis=1).ravel() for k, v in columns.items()}
    n = walkers * HORIZON
    return Dataset(states=arrays["states"], actions=arrays["actions"],
                   rewards=arrays["rewards"], next_states=arrays["next_states"],
                   terminated=np.zeros(n, dtype=bool),
                   episode=np.repeat(np.arange(walkers), HORIZON),
                   step=np.tile(np.arange(HORIZON), walkers), num_episodes=walkers)


def measure(name: str, num_states: int, storage: str, num_episodes: int) -> dict:
    """One measurement, in this process (the child). ``name``: a submission, online unless
    it has no online agent or ends in ``:offline``, or ``fm-featurize`` / ``fm-refresh``."""
    from rlbench_icl import experience
    from rlbench_icl.discovery import resolve

    experience.DENSE_MAX_BYTES = 0 if storage == "sparse" else 2 ** 62
    rng = np.random.default_rng(0)
    model = make_model(rng, num_states)
    if name.startswith("fm-"):
        return measure_fm(name, model, rng)
    agent_name, _, protocol = name.partition(":")
    submission = resolve(agent_name)[1]
    if submission.make_online_agent is None or protocol == "offline":
        dataset = make_dataset(model, rng, 2 * num_states * NUM_ACTIONS)
        before = _max_rss_mb()
        start = time.process_time()
        submission.solve_offline(task_info(num_states, 0), dataset, rng)
    else:
        before = _max_rss_mb()
        start = time.process_time()
        agent = submission.make_online_agent(task_info(num_states, num_episodes), rng)
        run_online_episodes(agent, model, rng, num_episodes)
    return {"cpu_s": time.process_time() - start, "peak_mb": _max_rss_mb(),
            "before_mb": before}


def measure_fm(name: str, model: dict, rng: np.random.Generator) -> dict:
    """``fm-refresh`` or ``fm-featurize`` after ``FM_EPISODES`` episodes (module docstring)."""
    import torch  # noqa: F401 -- imported before the first reading of memory, as the rest

    from rlbench_icl import ExperienceStatistic
    from rlbench_icl.discovery import SUBMISSIONS_DIR, resolve
    from rlbench_icl.fm.features import featurize
    from rlbench_icl.fm.policy import load_network

    info = task_info(len(model["R"]), FM_EPISODES + 1)
    before = _max_rss_mb()
    if name == "fm-refresh":
        agent = resolve("gnn-fm")[1].make_online_agent(info, rng)
        play_random_episodes(agent, model, rng, FM_EPISODES)
        start = time.process_time()
        agent.end_episode()
    else:  # gnn-fm's online reading: rewards in units of at least the declared bound
        features = load_network(SUBMISSIONS_DIR / "gnn_fm_checkpoint").config.features
        stat = ExperienceStatistic(info.num_states, info.num_actions)
        play_random_episodes(stat, model, rng, FM_EPISODES)
        start = time.process_time()
        featurize(stat, info, features, scale_floor=info.reward_bound)
    return {"cpu_s": time.process_time() - start, "peak_mb": _max_rss_mb(),
            "before_mb": before}


def play_random_episodes(observer, model: dict, rng: np.random.Generator,
                         num_episodes: int) -> None:
    """Uniform-random episodes, each transition given to ``observer.observe`` (an agent)
    or ``observer.update`` (a statistic)."""
    observe = getattr(observer, "observe", None) or observer.update
    num_states = len(model["R"])
    for _ in range(num_episodes):
        state = int(rng.integers(num_states))
        for _ in range(HORIZON):
            action = int(rng.integers(NUM_ACTIONS))
            next_state, reward = step(model, rng, np.array([state]), np.array([action]))
            observe(state, action, float(reward[0]), int(next_state[0]), False)
            state = int(next_state[0])


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure_in_child(name: str, num_states: int, storage: str, num_episodes: int,
                     timeout: float) -> dict:
    command = [sys.executable, __file__, "--child", name, str(num_states), storage,
               "--episodes", str(num_episodes)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {timeout:.0f} s"}
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit code {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--huge", action="store_true", help="also S = 10^6")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="*", help="override the sizes")
    parser.add_argument("--agents", nargs="*", default=MEASURES,
                        help="submission names (offline-only ones are solved offline)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds before a measurement is stopped")
    parser.add_argument("--child", nargs=3, metavar=("AGENT", "S", "STORAGE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, num_states, storage = args.child
        print(json.dumps(measure(name, int(num_states), storage, args.episodes)))
        return
    sizes = args.sizes or [1_000, 2_000, 10_000, 100_000] + ([1_000_000] if args.huge else [])
    rows = []
    for num_states in sizes:
        for name in args.agents:
            for storage in ("sparse", "dense"):
                if storage == "dense" and (num_states > DENSE_UP_TO
                                           or name in WITHOUT_STATISTIC):
                    continue
                out = measure_in_child(name, num_states, storage, args.episodes,
                                       args.timeout)
                counts = "-" if name in WITHOUT_STATISTIC else storage
                rows.append([num_states, name, counts, out.get("cpu_s"), out.get("peak_mb"),
                             out.get("before_mb"), out.get("error", "")])
                print(*rows[-1], sep="\t", file=sys.stderr, flush=True)
    print(f"A = {NUM_ACTIONS}, {SUCCESSORS} successors per pair, H = {HORIZON}; online: "
          f"{args.episodes} episodes; offline: 2 S A transitions; fm-: after {FM_EPISODES} "
          "episodes")
    print(tabulate(rows, headers=["S", "agent", "counts", "CPU s", "peak RSS MB",
                                  "RSS before MB", "error"], floatfmt=".2f"))


if __name__ == "__main__":
    main()
