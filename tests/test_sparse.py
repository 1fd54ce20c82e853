"""Sparse storage: every scored task stored as a CSR over (s, a) rows gives the same digest,
exact values, sampled episodes and offline datasets, bit for bit, as its dense form."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse

from rlbench_icl import simulate
from rlbench_icl.mdp import DENSE_MAX_BYTES, TabularMDP
from rlbench_icl.protocols.offline import behaviour_policy, collect_dataset
from rlbench_icl.registry import default_registry
from rlbench_icl.simulate import Simulator
from rlbench_icl.tasks import Task


def scored_task_ids() -> list[str]:
    """The fixed tasks and the dev and test suites' instances: every task with results."""
    registry = default_registry()
    return sorted({*registry.select("all"), *registry.select("dev"), *registry.select("test")})


def sparse_form(mdp: TabularMDP) -> TabularMDP:
    """The same MDP, given and stored as CSR matrices."""
    S, A = mdp.num_states, mdp.num_actions
    flat = scipy.sparse.csr_array(mdp.P.reshape(S * A, S))
    R_next = None if mdp.R_next is None else scipy.sparse.csr_array(
        mdp.R_next.reshape(S * A, S))
    return dataclasses.replace(mdp, P=flat, R_next=R_next, storage="sparse")


def episode(mdp: TabularMDP, seed: int, steps: int = 3000) -> list:
    """``steps`` simulator steps of uniformly random actions, restarting when an episode
    ends: the stream every protocol draws from."""
    sim, actions = Simulator(mdp, np.random.default_rng(seed)), np.random.default_rng(1)
    trace, state, t = [], sim.reset(), 0
    for _ in range(steps):
        reward, state, terminated = sim.step(state, int(actions.integers(mdp.num_actions)))
        t += 1
        trace.append((reward, state, terminated))
        if terminated or t == mdp.horizon:
            state, t = sim.reset(), 0
    return trace


@pytest.mark.parametrize("task_id", scored_task_ids())
def test_sparse_and_dense_forms_agree_bit_for_bit(task_id, monkeypatch):
    dense_task = default_registry().make(task_id)
    dense = dense_task.mdp
    sparse = sparse_form(dense)
    sparse_task = Task(spec=dense_task.spec, mdp=sparse)
    assert not dense.is_sparse and sparse.is_sparse
    assert sparse.digest == dense.digest
    assert sparse.num_transitions == dense.num_transitions
    assert sparse.reward_bounds() == dense.reward_bounds()
    assert np.array_equal(sparse_task.optimal_q, dense_task.optimal_q)
    for value in ("optimal_value", "random_value", "return_bounds"):
        assert getattr(sparse_task, value) == getattr(dense_task, value), value
    expected = episode(dense, seed=3)
    assert episode(sparse, seed=3) == expected
    policy = behaviour_policy(dense_task, 0.5)
    data = collect_dataset(dense_task, policy, 3, np.random.default_rng(5))
    monkeypatch.setattr(simulate, "LIST_TABLES_MAX_ROWS", 0)  # the large MDPs' flat tables
    assert episode(sparse, seed=3) == expected
    assert episode(dense, seed=3) == expected
    flat = collect_dataset(sparse_task, policy, 3, np.random.default_rng(5))
    for field in dataclasses.fields(data):
        assert np.array_equal(getattr(flat, field.name), getattr(data, field.name))


def test_storage_is_chosen_by_the_dense_size():
    S, A = 5, 2
    P = np.full((S, A, S), 1.0 / S)
    mdp = TabularMDP(P=P, R=np.zeros((S, A)), mu0=np.full(S, 1.0 / S), horizon=3)
    assert not mdp.is_sparse and mdp.P.shape == (S, A, S)
    big = int(np.sqrt(DENSE_MAX_BYTES / 8 / A)) + 1  # the smallest S whose dense P is too big
    rows = np.arange(big * A)
    chain = scipy.sparse.csr_array((np.ones(big * A), ((rows // A + 1) % big, rows)),
                                   shape=(big, big * A)).T
    large = TabularMDP(P=chain, R=np.zeros((big, A)), mu0=np.eye(big)[0], horizon=3)
    assert large.is_sparse and large.P.shape == (big * A, big) and large.num_transitions == big * A
    assert large.P.data.flags.writeable is False
    with pytest.raises(ValueError, match="storage 'csr' is unknown"):
        TabularMDP(P=P, R=np.zeros((S, A)), mu0=np.full(S, 1.0 / S), horizon=3, storage="csr")


def test_a_bad_sparse_model_is_named_like_a_dense_one():
    S, A = 3, 2

    def make(entries, **kwargs):
        rows, cols, probs = zip(*entries, strict=True)
        P = scipy.sparse.coo_array((probs, (rows, cols)), shape=(S * A, S))
        return TabularMDP(P=P, R=np.zeros((S, A)), mu0=np.full(S, 1 / S), horizon=2,
                          storage="sparse", **kwargs)

    good = [(r, r % S, 1.0) for r in range(S * A)]
    assert make(good).is_sparse
    with pytest.raises(ValueError, match=r"negative probability -0.5 at index \(1, 0, 2\)"):
        make([*good[:2], (2, 1, 1.5), (2, 2, -0.5), *good[3:]])
    with pytest.raises(ValueError, match=r"P row \(2, 1\) sums to 0.5"):
        make([*good[:5], (5, 0, 0.5)])
    with pytest.raises(ValueError, match=r"non-finite entry nan at index \(0, 1, 1\)"):
        make([*good[:1], (1, 1, np.nan), *good[2:]])
    with pytest.raises(ValueError, match=r"sparse P has shape \(5, 3\)"):
        TabularMDP(P=scipy.sparse.csr_array((5, 3)), R=np.zeros((S, A)), mu0=np.ones(S) / S,
                   horizon=2)
    with pytest.raises(ValueError, match="terminal state 0 must be absorbing"):
        make(good, terminal=np.array([True, False, False]))


def test_large_tasks_are_selected_only_by_name_or_their_tag():
    registry = default_registry()
    large = registry.select("large")
    assert {"Garnet10k-v0", "Garnet1M-v0", "DeepSea316-v0"} <= set(large)
    for selector in ("all", "full", "garnet", "exploration", "dev", "test"):
        assert not set(registry.select(selector)) & set(large), selector
    assert registry.select("Garnet1M-v0") == ["Garnet1M-v0"]


@pytest.mark.parametrize("task_id", ["Garnet10k-v0", "DeepSea100-v0", "Rooms10k-v0"])
def test_a_large_task_is_sparse_and_exactly_valued(task_id):
    task = default_registry().make(task_id)
    m = task.mdp
    assert m.is_sparse and m.num_states >= 10_000
    assert m.P.nnz == m.num_transitions <= 5 * m.num_states * m.num_actions
    assert task.optimal_value > task.random_value
    if task_id.startswith("DeepSea"):  # bsuite's optimum: 1 - move_cost
        assert task.optimal_value == pytest.approx(0.99)
    if task_id.startswith("Rooms"):  # the horizon leaves time to reach the goal, slips and all
        assert task.optimal_value == pytest.approx(1.0, abs=1e-6)
    assert task.optimal_actions.shape == (m.horizon, m.num_states)


def test_a_task_above_the_memory_budget_is_refused_before_any_run(tmp_path, capsys):
    from rlbench_icl.cli import main

    out = tmp_path / "results"
    code = main(["run", "--agent", "random", "--tasks", "DeepSea100-v0", "--seeds", "1",
                 "--memory-budget", "0.001", "--out", str(out), "--quiet", "--in-process"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "task DeepSea100-v0 (10,001 states, 2 actions, 20,002 transitions" in err
    assert "above the memory budget of 1 MiB" in err
    assert not any(out.rglob("*.json"))


def _grid_task_ids():
    registry = default_registry()
    return [t for t in registry.select("all") + registry.select("dev")
            if registry.spec(t).builder in {"gridworld", "random_lake", "random_maze", "rooms",
                                             "lava_bridge", "windy_grid"}]


@pytest.mark.parametrize("task_id", _grid_task_ids())
def test_large_grid_construction_gives_the_same_model_on_every_grid_task(task_id, monkeypatch):
    """The sparse construction (used above 64 MiB) on every small gridworld task: the same P
    and R to the last bit, the same entering rewards on every possible transition."""
    from rlbench_icl.builders import gridworlds
    from rlbench_icl.registry import build_task

    registry = default_registry()
    dense = registry.make(task_id).mdp
    monkeypatch.setattr(gridworlds, "DENSE_MAX_BYTES", 0)
    built = build_task(registry.spec(task_id)).mdp  # sparse, stored dense again (small)
    assert np.array_equal(built.P, dense.P) and np.array_equal(built.R, dense.R)
    possible = dense.P > 0
    assert np.array_equal(built.R_next[possible], dense.R_next[possible])
    assert not built.R_next[~possible].any()  # rewards only where a move can go


@pytest.mark.parametrize("num_states", [3, 6, 40])
def test_a_long_riverswim_is_built_sparse_with_the_same_entries(num_states, monkeypatch):
    from rlbench_icl.builders import chains

    dense = chains.riverswim(num_states=num_states, horizon=30)
    monkeypatch.setattr(chains, "DENSE_MAX_BYTES", 0)
    sparse = chains.riverswim(num_states=num_states, horizon=30)
    assert sparse.is_sparse is False  # small: stored dense again by TabularMDP
    assert sparse.digest == dense.digest


def test_a_ten_thousand_state_chain_stays_linear_in_memory():
    import tracemalloc

    from rlbench_icl.builders.chains import riverswim

    tracemalloc.start()
    m = riverswim(num_states=10_000, horizon=10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert m.is_sparse and m.num_transitions == 4 * 10_000 - 2
    assert peak < 50 * 2**20  # the dense (S, 2, S) array alone would take 1.6 GB
