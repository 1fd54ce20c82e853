"""The reference baselines: hand-checked update rules, reference equivalence with dynprog,
and behaviour through the real harness with fixed seeds."""

import dataclasses
import functools
import importlib.util
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rlbench_icl import (
    Dataset,
    OfflineSettings,
    OnlineSettings,
    TaskInfo,
    backward_induction,
    default_registry,
    experience,
)
from rlbench_icl.discovery import SUBMISSIONS_DIR, resolve
from rlbench_icl.protocols import collect_dataset, run_offline, run_online
from rlbench_icl.protocols.offline import behaviour_policy
from rlbench_icl.registry import build_task
from rlbench_icl.simulate import Simulator
from rlbench_icl.tasks import TaskSpec

REGISTRY = default_registry()
ONLINE = ["ucbvi", "ucbvi-bernstein", "ucbvi-paper", "qlearning", "qlearning-ucb",
          "qlearning-paper", "psrl"]


def load_module(name: str):
    spec = importlib.util.spec_from_file_location(f"test_baseline_{name}",
                                                  SUBMISSIONS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ucbvi, qlearning, vi_lcb, psrl = (load_module(n) for n in ("ucbvi", "qlearning", "vi_lcb",
                                                           "psrl"))

# Two states, two actions, H = 2, gamma = 1, rewards in [0, 1], K = 10: v_max = (2, 1, 0).
INFO = TaskInfo(num_states=2, num_actions=2, horizon=2, discount=1.0, objective="finite",
                reward_range=(0.0, 1.0), reward_noise="deterministic", num_episodes=10)


def feed(agent, transitions):
    for s, a, r, s_next in transitions:
        agent.observe(s, a, r, s_next, False)


# ---- hand-checked update rules -----------------------------------------------------------

def test_ucbvi_hoeffding_bonus_and_optimistic_q_by_hand():
    agent = ucbvi.UCBVI(INFO, np.random.default_rng(0), scale=0.1)
    feed(agent, [(0, 0, 1.0, 0), (0, 0, 1.0, 0), (0, 1, 0.0, 1)])
    agent.end_episode()
    # L = ln(5 S A H K / delta) = ln(4000) = 8.294050; sqrt(L) = 2.879939.
    # h = 1: (0,0): 1 + 0.1*1*sqrt(L/2) clipped at v_max(1) = 1; (0,1): 0 + 0.1*sqrt(L) =
    #        0.287994; state 1 untried: v_max(1) = 1.
    # h = 0: (0,0): 1 + 0.2*sqrt(L/2) + V1[0] = 2.407 clipped at 2; (0,1): 0 + 0.2*sqrt(L) +
    #        V1[1] = 1.575988; state 1 untried: 2.
    expected = [[[2.0, 1.575988], [2.0, 2.0]], [[1.0, 0.287994], [1.0, 1.0]]]
    np.testing.assert_allclose(agent.q, expected, atol=1e-6)
    assert agent.act(0, 0) == 0 and agent.act(0, 1) == 0
    # Exploitation: no bonus, untried pairs at v_min = 0: Q[1, 0] = (1, 0), Q[0, 0] = (2, 0).
    np.testing.assert_array_equal(agent.policy()[:, 0], [[1, 0], [1, 0]])


def test_ucbvi_bernstein_bonus_by_hand():
    n = np.array([[1.0, 4.0]])
    # n = 1: min(0.5 + 2, 2) = 2 (capped); n = 4: 0.5 / 2 + 2 / 4 = 0.75.
    np.testing.assert_allclose(ucbvi.bernstein_bonus(n, 2.0, 9.9, 0.5), [[2.0, 0.75]])
    np.testing.assert_allclose(ucbvi.hoeffding_bonus(n, 2.0, 4.0, 0.5), [[2.0, 1.0]])


def test_qlearning_update_by_hand():
    agent = qlearning.QLearning(INFO, np.random.default_rng(0), epsilon=0.0, step_size=0.5)
    np.testing.assert_array_equal(agent.q[:, 0, 0], [2.0, 1.0])  # v_max(h)
    assert agent.act(0, 0) == 0
    agent.observe(0, 0, 0.0, 1, False)  # target 0 + max Q[1, 1] = 1: 2 + 0.5 (1 - 2) = 1.5
    assert agent.act(1, 1) == 0
    agent.observe(1, 0, 0.5, 0, False)  # last step, target 0.5: 1 + 0.5 (0.5 - 1) = 0.75
    assert agent.act(0, 0) == 1
    agent.observe(0, 1, 1.0, 1, True)  # terminal, target 1: 2 + 0.5 (1 - 2) = 1.5
    np.testing.assert_allclose(agent.q, [[[1.5, 1.5], [2.0, 2.0]], [[1.0, 1.0], [0.75, 1.0]]])


def test_ucb_hoeffding_qlearning_update_by_hand():
    agent = qlearning.UCBQLearning(INFO, np.random.default_rng(0), scale=0.1)
    # iota = ln(S A T / delta) = ln(800) = 6.684612; b_1 = 0.1 sqrt(8 iota) = 0.731279.
    agent.act(0, 0)
    agent.observe(0, 0, 0.0, 1, False)  # t = 1, alpha = 1: 0 + V[1, 1] (= 1) + b_1
    assert agent.q[0, 0, 0] == pytest.approx(1.731279, abs=1e-6)
    assert agent.v[0, 0] == 2.0  # min(v_max(0) = 2, max(1.73, 2))
    agent.act(1, 1)
    agent.observe(1, 1, 1.0, 0, False)  # 1 + V[2] (= 0) + b_1, V clipped at v_max(1) = 1
    assert agent.q[1, 1, 1] == pytest.approx(1.731279, abs=1e-6) and agent.v[1, 1] == 1.0
    agent.act(0, 0)
    agent.observe(0, 0, 0.0, 1, False)  # t = 2, alpha = 3/4: 1.731279/4 + 3/4 (1 + b_1/sqrt 2)
    assert agent.q[0, 0, 0] == pytest.approx(1.570639, abs=1e-6)


def dataset(rows) -> Dataset:
    cols = list(zip(*rows, strict=True))
    dtypes = (np.int64, np.int64, np.float64, np.int64, bool, np.int64, np.int64)
    arrays = [np.array(c, dtype=d) for c, d in zip(cols, dtypes, strict=True)]
    return Dataset(*arrays, num_episodes=int(arrays[5].max()) + 1)


# (s, a, r, s', terminated, episode, step): n(0,0) = 2, n(0,1) = n(1,0) = 1, (1,1) untried.
DATA = [(0, 0, 1.0, 0, False, 0, 0), (0, 0, 1.0, 0, False, 0, 1),
        (0, 1, 0.0, 1, False, 1, 0), (1, 0, 0.5, 1, False, 1, 1)]


def test_vi_lcb_hoeffding_penalty_by_hand():
    Q = vi_lcb.lcb_values(INFO, dataset(DATA), scale=0.1)
    # iota = ln(S A H N / delta) = ln(320) = 5.768321; penalty 0.1 d(h) sqrt(iota / n).
    # h = 1: (0,0) 1 - 0.169828; (0,1) 0 - 0.240173 -> clipped at v_min = 0;
    #        (1,0) 0.5 - 0.240173 = 0.259827; (1,1) untried -> 0.
    # h = 0: (0,0) 1 - 0.339656 + 0.830172; (0,1) 0 - 0.480347 + 0.259827 -> 0;
    #        (1,0) 0.5 - 0.480347 + 0.259827 = 0.279480; (1,1) -> 0.
    expected = [[[1.490516, 0.0], [0.279480, 0.0]], [[0.830172, 0.0], [0.259827, 0.0]]]
    np.testing.assert_allclose(Q, expected, atol=1e-6)
    policy = vi_lcb.solve_vi_lcb(INFO, dataset(DATA), None, scale=0.1)
    np.testing.assert_array_equal(policy.argmax(axis=-1), [[0, 0], [0, 0]])


def test_vi_lcb_bernstein_penalty_by_hand():
    # At h = 1, V[2] = 0 and rewards are deterministic: the variance is 0 and the penalty is
    # min(0.1 * d(1) * iota / n, d(1)): (0,0) 1 - 0.1 * 5.768321 / 2 = 0.711584.
    Q = vi_lcb.lcb_values(INFO, dataset(DATA), penalty=vi_lcb.bernstein_penalty, scale=0.1)
    assert Q[1, 0, 0] == pytest.approx(0.711584, abs=1e-6) and Q[1, 1, 0] == 0.0
    # sqrt(4 * 0.25 / 4) = 0.5 and 2 * 4 / 4 = 2: 0.5 * (0.5 + 2) = 1.25 < 2.
    assert vi_lcb.bernstein_penalty(4.0, 2.0, 0.25, 4.0, 0.5) == pytest.approx(1.25)


def test_vi_lcb_ties_go_to_the_most_visited_action():
    Q = np.zeros((1, 2, 3))
    n = np.array([[1.0, 5.0, 5.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(vi_lcb.supported_greedy(Q, n)[0].argmax(axis=-1), [1, 0])


def test_psrl_posterior_by_hand():
    agent = psrl.PSRL(INFO, np.random.default_rng(0), prior_mass=1.0)  # alpha0 = 1 / S = 0.5
    feed(agent, [(0, 0, 1.0, 1), (0, 0, 1.0, 1), (1, 1, 0.0, 1)])
    # Rewards 1 and 0 Bernoulli-ise to a sure success / failure: Beta(3, 1) at (0,0),
    # Beta(1, 2) at (1,1), Beta(1, 1) elsewhere. Dirichlet rows: (0,0) (0.5, 2.5), (1,1)
    # (0.5, 1.5), untried (0.5, 0.5).
    np.testing.assert_array_equal(agent.successes, [[2, 0], [0, 0]])
    probs, unseen, theta = agent.mean_model()
    np.testing.assert_allclose(probs, [5 / 6, 3 / 4])
    np.testing.assert_allclose(unseen, [1 / 6, 1, 1, 1 / 4])
    np.testing.assert_allclose(theta, [3 / 4, 1 / 2, 1 / 2, 1 / 3])
    # Mean model: Q[1] = R = [[.75, .5], [.5, 1/3]], V[1] = (.75, .5);
    # Q[0, 0, 0] = .75 + (1/6) .75 + (5/6) .5; Q[0, 1, 1] = 1/3 + .25 * .75 + .75 * .5.
    Q = agent.plan(agent.mean_model())
    np.testing.assert_allclose(Q, [[[1.291667, 1.125], [1.125, 0.895833]],
                                   [[0.75, 0.5], [0.5, 1 / 3]]], atol=1e-6)
    samples = [agent.sample_model() for _ in range(4000)]
    probs_00 = np.array([s[0][0] for s in samples])
    assert probs_00.mean() == pytest.approx(5 / 6, abs=0.01)
    assert probs_00.var() == pytest.approx(0.5 * 2.5 / (3 ** 2 * 4), rel=0.1)  # Dirichlet
    np.testing.assert_allclose(np.mean([s[1] for s in samples], axis=0), unseen, atol=0.01)
    np.testing.assert_allclose(np.mean([s[2] for s in samples], axis=0), theta, atol=0.01)


# ---- reference equivalence on a sparse-sized model ----------------------------------------

def random_transitions(num_states, num_actions, visits, seed):
    rng = np.random.default_rng(seed)
    successors = rng.integers(num_states, size=(num_states, num_actions, 3))
    for s in range(num_states):
        for a in range(num_actions):
            for k in range(visits):
                yield s, a, float(rng.random() < 0.3), int(successors[s, a, k % 3])


def test_sparse_planning_agrees_with_dense_backward_induction():
    S, A = 70, 3  # above SPARSE_MIN_STATES: the agents plan on scipy.sparse matrices
    info = TaskInfo(num_states=S, num_actions=A, horizon=15, discount=0.9, objective="finite",
                    reward_range=(0.0, 1.0), reward_noise="bernoulli", num_episodes=5)
    transitions = list(random_transitions(S, A, 4, seed=1))
    u, p = ucbvi.UCBVI(info, None), psrl.PSRL(info, np.random.default_rng(0))
    feed(u, transitions)
    feed(p, transitions)
    P_hat, R_hat, _ = u.experience.stat.empirical_model()
    Q_ref = backward_induction(P_hat, R_hat, info.horizon, info.discount)[0]
    np.testing.assert_allclose(ucbvi.plan(*_no_bonus_args(u)), Q_ref, atol=1e-12)
    counts = p.stat.transition_counts
    n = counts.sum(axis=2)
    P_mean = (p.alpha0 + counts) / (p.alpha0 * S + n)[..., None]
    R_mean = (1 + p.successes) / (2 + n)
    Q_mean = backward_induction(P_mean, R_mean, info.horizon, info.discount)[0]
    np.testing.assert_allclose(p.plan(p.mean_model()), Q_mean, atol=1e-12)


def _no_bonus_args(agent):
    P, R, n = agent.experience.model()
    no_bonus = np.zeros((agent.info.horizon + 1, 1, 1))
    return (P, R, no_bonus, n > 0, agent.experience.stat.terminal_seen, agent.v_min,
            agent.v_max, agent.info.discount)


# ---- behaviour through the real harness ----------------------------------------------------

def policy_curve(task, out):
    return task.normalise(np.array(out["episodes"]["policy_values"]))


# UCB-VI runs at a theory-scale bonus here: the default chosen on the synthetic prior
# (experiments/tune_baselines.md) is far smaller and is not meant to crack RiverSwim.
@pytest.mark.parametrize("name, factory", [
    ("ucbvi", functools.partial(ucbvi.UCBVI, scale=0.01)),
    ("ucbvi-bernstein", None), ("psrl", None)])
def test_model_based_agents_solve_riverswim_well_inside_the_budget(name, factory):
    task = REGISTRY.make("RiverSwim6-v0")  # budget 300 episodes
    submission = resolve(name)[1]
    if factory is not None:
        submission = dataclasses.replace(submission, make_online_agent=factory)
    for seed in (0, 1):
        out = run_online(task, submission, OnlineSettings(num_episodes=60), seed=seed)
        assert min(policy_curve(task, out)[-20:]) >= 0.9


def deterministic_chain():
    spec = TaskSpec(
        id="TestChain-v0", description="test", reference="", tags=(), builder="distractor_chain",
        params={"num_states": 8, "start": 2, "near_reward": 0.1, "far_reward": 1.0,
                "slip": 0.0},
        horizon=12, discount=1.0, objective="finite", online_episodes=150,
        offline_dataset_episodes=(1,), offline_epsilons=(1.0,), source=Path(__file__))
    return build_task(spec)


def test_ucb_hoeffding_qlearning_learns_a_deterministic_chain():
    task = deterministic_chain()
    out = run_online(task, resolve("qlearning-ucb")[1], OnlineSettings(150), seed=0)
    curve = policy_curve(task, out)
    # The greedy policy of an optimistic Q still explores now and then: judge on average.
    assert curve[0] < 0.5 and np.mean(curve[-50:]) >= 0.9
    assert out["scores"]["episodes_to_solve"] is not None


def test_vi_lcb_is_optimal_given_dense_data():
    task = REGISTRY.make("GarnetS20A3B2-v0")  # uniform mu0: random play covers every pair
    data = collect_dataset(task, behaviour_policy(task, 1.0), 500, np.random.default_rng(0))
    info = TaskInfo.from_task(task)
    for name in ("vi-lcb", "vi-lcb-bernstein", "plugin"):
        policy = resolve(name)[1].solve_offline(info, data, np.random.default_rng(0))
        assert task.policy_value(policy) == pytest.approx(task.optimal_value, rel=1e-9)


@pytest.mark.parametrize("task_id", ["RiverSwim6-v0", "FrozenLake4x4-v0", "CliffWalking-v0"])
def test_vi_lcb_is_no_worse_than_a_near_optimal_behaviour(task_id):
    task = REGISTRY.make(task_id)
    behaviour = task.normalise(task.policy_value(behaviour_policy(task, 0.1)))
    settings = OfflineSettings(dataset_episodes=(10, 50), epsilons=(0.1,))
    for name in ("vi-lcb", "vi-lcb-bernstein"):
        cells = run_offline(task, resolve(name)[1], settings, seed=0)["cells"]
        assert min(c["normalised_value"] for c in cells) >= behaviour


@pytest.mark.parametrize("name", ONLINE)
def test_same_seed_same_record(name):
    task = REGISTRY.make("FrozenLake4x4-v0")
    runs = [run_online(task, resolve(name)[1], OnlineSettings(15), seed=s) for s in (3, 3)]
    assert runs[0] == runs[1]


# ---- large sparse tasks: planning over the observed transitions only (issue 23) ------------

MODEL_BASED_ONLINE = ["ucbvi", "ucbvi-bernstein", "ucbvi-paper", "psrl"]
MODEL_BASED_OFFLINE = ["vi-lcb", "vi-lcb-bernstein", "vi-lcb-paper", "plugin"]


@functools.cache
def sparse_garnet(num_states: int):
    """A garnet stored sparse (A = 3, 3 successors per pair, H = 10) and a dataset of 300
    episodes of uniform-random play on it."""
    spec = TaskSpec(
        id="TestSparseGarnet-v0", description="test", reference="", tags=(),
        builder="sparse_garnet",
        params={"num_states": num_states, "num_actions": 3, "branching": 3, "seed": 0},
        horizon=10, discount=1.0, objective="finite", online_episodes=3,
        offline_dataset_episodes=(300,), offline_epsilons=(1.0,), source=Path(__file__))
    task = build_task(spec)
    data = collect_dataset(task, behaviour_policy(task, 1.0), 300, np.random.default_rng(0))
    return task, data  # the harness's simulator tables are now built (cached per task)


def traced_peak(run) -> int:
    """Peak bytes numpy and Python allocate while ``run()`` runs."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", MODEL_BASED_ONLINE + MODEL_BASED_OFFLINE)
def test_model_based_agents_run_a_20000_state_task_in_memory_linear_in_transitions(name):
    task, data = sparse_garnet(20_000)
    S, A, H = task.mdp.num_states, task.mdp.num_actions, task.mdp.horizon
    submission = resolve(name)[1]
    if submission.make_online_agent is not None:
        peak = traced_peak(lambda: run_online(task, submission, OnlineSettings(3), seed=0))
    else:
        info, rng = TaskInfo.from_task(task), np.random.default_rng(0)
        peak = traced_peak(lambda: submission.solve_offline(info, data, rng))
    # a plan (H, S, A) is 4.8 MB; one (S, S) array of bools would be 400 MB, the dense
    # counts (S, A, S) 9.6 GB (which the statistic refuses to build)
    assert peak < 16 * H * S * A * 8


def play_in_lockstep(task, agents, num_episodes: int, seed: int) -> None:
    """Drives ``agents`` on one stream of transitions, asserting that every action and every
    ``policy()`` they give is the same."""
    simulator = Simulator(task.mdp, np.random.default_rng(seed))
    for _ in range(num_episodes):
        state = simulator.reset()
        for h in range(task.mdp.horizon):
            action, *others = (agent.act(state, h) for agent in agents)
            assert others == [action] * len(others)
            reward, next_state, terminated = simulator.step(state, action)
            for agent in agents:
                agent.observe(state, action, reward, next_state, terminated)
            if terminated:
                break
            state = next_state
        for agent in agents:
            agent.end_episode()
        policy, *others = (agent.policy() for agent in agents)
        for other in others:
            np.testing.assert_array_equal(other, policy)


SMALL_TASKS = ["FrozenLake4x4-v0", "GarnetS100A6B10-v0", "PaperGrid5x5-v0"]


def with_sparse_counts(monkeypatch, make):
    """``make()`` with every experience statistic it builds stored sparse."""
    with monkeypatch.context() as patch:
        patch.setattr(experience, "DENSE_MAX_BYTES", 0)
        return make()


@pytest.mark.parametrize("name", MODEL_BASED_ONLINE)
def test_online_agents_act_the_same_on_dense_and_sparse_counts(name, monkeypatch):
    monkeypatch.setattr(experience, "DENSE_VIEW_MAX_BYTES", 0)  # a sparse one stays sparse
    factory = resolve(name)[1].make_online_agent
    for task_id in SMALL_TASKS:
        info = TaskInfo.from_task(REGISTRY.make(task_id), 20)
        dense = factory(info, np.random.default_rng(1))
        sparse = with_sparse_counts(monkeypatch,
                                    lambda i=info: factory(i, np.random.default_rng(1)))
        play_in_lockstep(REGISTRY.make(task_id), [dense, sparse], 20, seed=2)


@pytest.mark.parametrize("name", MODEL_BASED_OFFLINE)
def test_offline_agents_solve_the_same_on_dense_and_sparse_counts(name, monkeypatch):
    monkeypatch.setattr(experience, "DENSE_VIEW_MAX_BYTES", 0)
    solve = resolve(name)[1].solve_offline
    for task_id in SMALL_TASKS:
        task = REGISTRY.make(task_id)
        info = TaskInfo.from_task(task)
        for epsilon, episodes in [(1.0, 5), (0.3, 50)]:
            data = collect_dataset(task, behaviour_policy(task, epsilon), episodes,
                                   np.random.default_rng(3))
            dense = solve(info, data, np.random.default_rng(0))
            sparse = with_sparse_counts(
                monkeypatch, lambda i=info, d=data: solve(i, d, np.random.default_rng(0)))
            np.testing.assert_array_equal(sparse, dense)


AGENT_RUNS_SCRIPT = """
import hashlib, json
import numpy as np
from rlbench_icl import OfflineSettings, OnlineSettings, default_registry
from rlbench_icl.discovery import resolve
from rlbench_icl.protocols import run_offline, run_online
task = default_registry().make("GarnetS50A4B5-v0")
outs = [run_online(task, resolve(a)[1], OnlineSettings(num_episodes=150), seed=1)
        for a in ("ucbvi", "psrl")]
outs.append(run_offline(task, resolve("vi-lcb")[1], OfflineSettings((20, 200), (1.0, 0.1)), 1))
print(hashlib.sha256(json.dumps(outs, sort_keys=True).encode()).hexdigest())
rng = np.random.default_rng(0)  # a product like a plan's, to show the kernel took effect
P, V = rng.random((200, 50)), rng.random(50)
print(hashlib.sha256((P / P.sum(axis=1, keepdims=True) @ V).tobytes()).hexdigest())
"""


@pytest.mark.skipif(__import__("platform").machine().lower() not in ("x86_64", "amd64"),
                    reason="OPENBLAS_CORETYPE names x86-64 kernels")
def test_agents_plans_give_the_same_runs_whatever_the_blas_kernel():
    """UCB-VI, PSRL and VI-LCB plan on a dense empirical model below 64 states through BLAS,
    whose kernel orders each product's sums by CPU: their values differ in the last bits
    between kernels (the script's second line shows it), but a greedy choice treats values
    within ``GREEDY_TIE_TOL`` as tied, so the runs are the same bytes under OpenBLAS's
    oldest x86-64 kernel and the one this CPU picks."""
    import os
    import subprocess
    import sys

    def digest(extra):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        env.update(OMP_NUM_THREADS="1", **extra)
        done = subprocess.run([sys.executable, "-c", AGENT_RUNS_SCRIPT], capture_output=True,
                              text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    runs_old, product_old = digest({"OPENBLAS_CORETYPE": "Nehalem"})
    runs_here, product_here = digest({})
    if product_old == product_here:
        pytest.skip("this numpy's BLAS does not change kernels by OPENBLAS_CORETYPE")
    assert runs_old == runs_here
