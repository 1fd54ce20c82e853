"""Task families: deterministic instances, valid and non-degenerate draws, reference checks."""

from collections import deque

import joblib
import numpy as np
import pytest

from rlbench_icl import TaskFileError, backward_induction, default_registry, load_registry
from rlbench_icl.builders.layouts import lake_layout, maze_layout, rooms_layout
from rlbench_icl.families import INSTANCE_ID, MAX_ATTEMPTS
from rlbench_icl.tasks import Task

REGISTRY = default_registry()
FAMILIES = REGISTRY.family_ids


def _fingerprints(ids):
    """(digest, V*, V_rand) of each instance, from a fresh registry (e.g. in a worker)."""
    registry = load_registry()
    return [(registry.make(i).digest, registry.make(i).optimal_value,
             registry.make(i).random_value) for i in ids]


def test_at_least_ten_families_cover_the_suite():
    assert len(FAMILIES) >= 10
    tags = {t for f in FAMILIES for t in REGISTRY.family(f).tags}
    assert {"exploration", "bandit", "garnet", "gridworld"} <= tags


def test_an_instance_is_the_same_in_any_process_and_another_seed_gives_another():
    ids = REGISTRY.select("family", instance_seed=7, instances=2)
    assert all(INSTANCE_ID.match(i) for i in ids) and len(ids) == 2 * len(FAMILIES)
    here = _fingerprints(ids)
    halves = [ids[: len(ids) // 2], ids[len(ids) // 2:]]
    workers = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_fingerprints)(part) for part in halves)
    assert here == workers[0] + workers[1]
    other = _fingerprints(REGISTRY.select("family", instance_seed=8, instances=2))
    assert {d for d, _, _ in here}.isdisjoint({d for d, _, _ in other})


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_hundreds_of_draws_are_valid_mdps_with_a_real_gap(family):
    spec = REGISTRY.family(family)
    for index in range(200):
        task = REGISTRY.make(spec.instance_id(12345, index))
        m = task.mdp  # TabularMDP validated P, R, mu0 and terminal rows on construction
        assert task.optimal_value - task.random_value >= spec.min_gap * m.reward_bound()
        assert task.spec.horizon >= 1 and task.spec.online_episodes >= 1
        assert "instance" in task.spec.tags and set(spec.tags) <= set(task.spec.tags)


def _family_file(tmp_path, body: str):
    (tmp_path / "f.toml").write_text(body)
    return load_registry([tmp_path])


FAMILY = """
[[family]]
id = "Arms-v0"
description = "d"
tags = ["mine"]
builder = "gap_bandit"
horizon = 10
episodes = 5
min_gap = {min_gap}
[family.params]
num_arms = {{ int = [2, 4] }}
best_mean = 0.9
gap = {{ log_uniform = [0.001, 0.2] }}
seed = {{ seed = true }}
"""


def test_degenerate_draws_are_redrawn_and_an_impossible_family_says_so(tmp_path):
    registry = _family_file(tmp_path, FAMILY.format(min_gap=0.5))
    for index in range(20):  # a gap of 0.5 of H * max|r| = 5 needs gap * H >= ~0.5
        task = registry.make(f"Arms-v0-s0-i{index}")
        assert task.optimal_value - task.random_value >= 0.5
    tiny = FAMILY.format(min_gap=1.0).replace("[0.001, 0.2]", "[0.001, 0.01]")
    registry = _family_file(tmp_path, tiny)  # V* - V_rand <= 10 x 2 x 0.01 < 1 x max|r|
    with pytest.raises(TaskFileError, match=f"no non-degenerate instance in {MAX_ATTEMPTS}"):
        registry.make("Arms-v0-s0-i0")


@pytest.mark.parametrize("bad, message", [
    ("gap = { normal = [0, 1] }", "one key among"),
    ("gap = { uniform = [0.3, 0.1] }", "low <= high"),
    ("gap = { log_uniform = [0.0, 0.1] }", "positive low end"),
    ("seed = { seed = 3 }", "write seed = true"),
])
def test_a_bad_distribution_names_the_file_family_and_parameter(tmp_path, bad, message):
    body = FAMILY.format(min_gap=0.1)
    key = bad.split(" =")[0]
    body = "\n".join(bad if line.startswith(f"{key} =") else line for line in body.splitlines())
    with pytest.raises(TaskFileError, match=message) as info:
        _family_file(tmp_path, body)
    assert "f.toml: family 'Arms-v0'" in str(info.value)


def test_instances_are_selected_by_family_id_and_tag_and_named_alone():
    assert REGISTRY.select("Maze-v0", instance_seed=3, instances=2) == [
        "Maze-v0-s3-i0", "Maze-v0-s3-i1"]
    assert REGISTRY.select("quick") == ["Bandit10-v0", "FrozenLake4x4-v0", "RiverSwim6-v0"]
    assert REGISTRY.select("quick,Maze-v0-s3-i1") == ["Bandit10-v0", "FrozenLake4x4-v0",
                                                      "RiverSwim6-v0", "Maze-v0-s3-i1"]
    assert REGISTRY.spec("Maze-v0-s3-i1").id == "Maze-v0-s3-i1"


# Reference checks: each family's instances against an independent computation.

def _shortest_path(layout: list[str]) -> int:
    """Moves from S to G by breadth-first search over the layout's free cells."""
    grid = [list(r) for r in layout]
    start = next((i, j) for i, r in enumerate(grid) for j, c in enumerate(r) if c == "S")
    seen, queue = {start: 0}, deque([start])
    while queue:
        i, j = queue.popleft()
        if grid[i][j] == "G":
            return seen[(i, j)]
        for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            n = (i + di, j + dj)
            if 0 <= n[0] < len(grid) and 0 <= n[1] < len(grid[0]) and grid[n[0]][n[1]] != "#" \
                    and n not in seen:
                seen[n] = seen[(i, j)] + 1
                queue.append(n)
    raise AssertionError("no path")


@pytest.mark.parametrize("builder, layout", [
    ("random_maze", lambda p: maze_layout(p["rows"], p["cols"], p["seed"])),
    ("rooms", lambda p: rooms_layout(p["num_rooms"], p["room_size"], p["seed"])),
])
def test_maze_and_rooms_optimal_values_follow_the_shortest_path(builder, layout):
    from rlbench_icl.builders import BUILDERS

    for family in ("Maze-v0", "Rooms-v0"):
        spec = REGISTRY.family(family)
        if spec.builder != builder:
            continue
        for index in range(3):
            params = dict(REGISTRY.make(spec.instance_id(0, index)).spec.params, slip=0.0)
            mdp = BUILDERS[builder](horizon=200, discount=0.9, **params)
            V = backward_induction(mdp.P, mdp.R, mdp.horizon, mdp.discount)[1][0]
            steps = _shortest_path(layout(params))
            assert float(mdp.mu0 @ V) == pytest.approx(0.9 ** (steps - 1), rel=1e-12)


def test_slippery_lakes_match_gymnasium_frozenlake_on_the_same_map():
    from rlbench_icl.builders import BUILDERS

    spec = REGISTRY.family("SlipperyLake-v0")
    for index in range(3):
        task = REGISTRY.make(spec.instance_id(0, index))
        p = task.spec.params
        desc = [r.replace(".", "F") for r in lake_layout(p["size"], p["frozen_prob"], p["seed"])]
        theirs = BUILDERS["gymnasium_toy_text"](env_id="FrozenLake-v1", desc=desc,
                                                is_slippery=True, horizon=task.mdp.horizon)
        reference = Task(spec=task.spec, mdp=theirs)
        assert task.optimal_value == pytest.approx(reference.optimal_value, abs=1e-12)
        assert task.random_value == pytest.approx(reference.random_value, abs=1e-12)


def test_bandit_values_are_the_closed_form():
    for family in ("BernoulliBandit-v0", "GaussianBandit-v0"):
        for index in range(5):
            task = REGISTRY.make(REGISTRY.family(family).instance_id(0, index))
            means, H = task.mdp.R[0], task.mdp.horizon
            assert task.optimal_value == pytest.approx(H * means.max(), rel=1e-12)
            assert task.random_value == pytest.approx(H * means.mean(), rel=1e-12)
            others = np.sort(means)[:-1]
            assert means.max() - others.max() >= task.spec.params["gap"] - 1e-12


def test_deep_sea_lava_and_chains_match_their_known_optima():
    for index in range(3):
        sea = REGISTRY.make(REGISTRY.family("DeepSea-v0").instance_id(0, index))
        assert sea.mdp.horizon == sea.spec.params["size"]
        assert sea.optimal_value == pytest.approx(0.99, rel=1e-12)  # 1 - move_cost
    from rlbench_icl.builders import BUILDERS

    bridge = BUILDERS["lava_bridge"](length=7, width=1, horizon=20, slip=0.0)
    V = backward_induction(bridge.P, bridge.R, 20, 1.0)[1][0]
    assert float(bridge.mu0 @ V) == pytest.approx(1.0)  # walk straight to the goal
    garnet = REGISTRY.make(REGISTRY.family("Garnet-v0").instance_id(0, 1))
    density = garnet.spec.params["reward_density"]
    zero = (garnet.mdp.R == 0).mean()
    assert (density == 1.0 and zero == 0) or abs(zero - (1 - density)) < 0.25


def test_suites_select_the_fixed_tasks_and_instances_they_declare():
    dev, test = REGISTRY.select("dev"), REGISTRY.select("test")
    suites = REGISTRY.suites
    assert set(REGISTRY.select("full")) <= set(dev)
    assert dev[len(REGISTRY.select("full")):] == REGISTRY.instances(
        FAMILIES, suites["dev"].instance_seed, suites["dev"].instances)
    assert test == REGISTRY.instances(FAMILIES, suites["test"].instance_seed,
                                      suites["test"].instances)
    assert not set(dev) & set(test), "no test instance is a dev task"
    assert REGISTRY.select("test", instance_seed=1, instances=1) == REGISTRY.instances(
        FAMILIES, 1, 1)


def test_naming_families_without_a_count_says_what_to_do():
    from rlbench_icl import UnknownNameError

    with pytest.raises(UnknownNameError, match="--instances K"):
        REGISTRY.select("Maze-v0")
    assert REGISTRY.select("Maze-v0", instances=0) == []


def test_a_bad_suite_names_the_file_and_field(tmp_path):
    (tmp_path / "s.toml").write_text('[[suite]]\nname = "Mine"\ndescription = "d"\n'
                                     'tasks = ""\nfamilies = ""\ninstance_seed = 0\n'
                                     'instances = 1\nseeds = 1\n')
    with pytest.raises(TaskFileError, match="s.toml: suite 'Mine': field 'name'"):
        load_registry([tmp_path])


def test_a_family_instance_is_a_gymnasium_env():
    import gymnasium
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("rlbench_icl/Maze-v0", instance=2, instance_seed=7)
    assert env.unwrapped.task.id == "Maze-v0-s7-i2"
    check_env(env.unwrapped)
    assert gymnasium.make("rlbench_icl/Rooms-v0").unwrapped.task.id == "Rooms-v0-s0-i0"


def test_the_cli_lists_and_runs_instances(tmp_path, capsys):
    from rlbench_icl.cli import main

    assert main(["tasks", "--tasks", "Maze-v0", "--instances", "2", "--instance-seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "Maze-v0-s5-i0" in out and "Maze-v0-s5-i1" in out
    assert main(["run", "--agent", "random", "--tasks", "BernoulliBandit-v0", "--instances",
                 "2", "--seeds", "2", "--episodes", "3", "--jobs", "2", "--out",
                 str(tmp_path), "--quiet", "--protocol", "online"]) == 0
    stored = sorted(p.parent.name for p in tmp_path.rglob("seed-*.json"))
    assert stored == ["BernoulliBandit-v0-s0-i0"] * 2 + ["BernoulliBandit-v0-s0-i1"] * 2


def _brute_force_value(mdp) -> float:
    """V*(mu0) by enumerating every deterministic non-stationary policy, evaluated by plain
    recursion: independent of ``dynprog``."""
    import itertools

    S, A, H = mdp.num_states, mdp.num_actions, mdp.horizon

    def value(policy, h, s):
        if h == H:
            return 0.0
        a = policy[h * S + s]
        return mdp.R[s, a] + sum(mdp.P[s, a, t] * value(policy, h + 1, t) for t in range(S)
                                 if mdp.P[s, a, t] > 0)

    return max(sum(mdp.mu0[s] * value(p, 0, s) for s in range(S))
               for p in itertools.product(range(A), repeat=H * S))


def test_sparse_garnets_match_a_brute_force_optimum():
    from rlbench_icl.builders import BUILDERS

    for seed in range(3):
        mdp = BUILDERS["garnet"](num_states=3, num_actions=2, branching=2, seed=seed,
                                 horizon=3, reward_density=0.5)
        V = backward_induction(mdp.P, mdp.R, 3)[1][0]
        assert float(mdp.mu0 @ V) == pytest.approx(_brute_force_value(mdp), abs=1e-12)


def test_chain_families_are_their_fixed_tasks_and_their_deterministic_optimum():
    from rlbench_icl.builders import BUILDERS

    fixed = REGISTRY.make("RiverSwim6-v0")  # the family's builder, cross-checked there
    same = BUILDERS["riverswim"](num_states=6, horizon=20)
    assert same.digest == fixed.mdp.digest
    chain = BUILDERS["distractor_chain"](num_states=10, start=2, near_reward=0.3,
                                         far_reward=1.0, slip=0.0, horizon=12)
    V = backward_induction(chain.P, chain.R, 12)[1][0]
    assert float(chain.mu0 @ V) == pytest.approx(1.0)  # 7 steps right reach the far end


def _windy_steps(rows: int, cols: int, wind: list[int], start, goal) -> int:
    """Fewest moves from start to goal when, after each move, the agent is pushed up by the
    wind of the column it left (Sutton & Barto's rule), by breadth-first search."""
    seen, queue = {start: 0}, deque([start])
    while queue:
        r, c = queue.popleft()
        if (r, c) == goal:
            return seen[(r, c)]
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            nr, nc = min(max(r + dr, 0), rows - 1), min(max(c + dc, 0), cols - 1)
            nr = max(nr - wind[c], 0)
            if (nr, nc) not in seen:
                seen[(nr, nc)] = seen[(r, c)] + 1
                queue.append((nr, nc))
    raise AssertionError("unreachable")


def test_windy_grids_optimum_is_the_shortest_windy_path():
    from rlbench_icl.builders import BUILDERS

    spec = REGISTRY.family("WindyGrid-v0")
    for index in range(4):
        task = REGISTRY.make(spec.instance_id(0, index))
        p = task.spec.params
        rng = np.random.default_rng(p["seed"])  # the builder's draws, in its order
        wind = rng.integers(0, p["max_wind"] + 1, size=p["cols"])
        wind[0] = 0
        goal = (int(rng.integers(p["rows"])), int(rng.integers(p["cols"] // 2 + 1, p["cols"])))
        steps = _windy_steps(p["rows"], p["cols"], wind.tolist(), (p["rows"] // 2, 0), goal)
        assert task.optimal_value == pytest.approx(-steps)
        assert BUILDERS["windy_grid"](horizon=task.mdp.horizon, **p).digest == task.digest


def test_a_tag_shared_with_families_selects_its_fixed_tasks_unless_given_a_count():
    fixed = [i for i in REGISTRY.ids if "gridworld" in REGISTRY.spec(i).tags
             and "large" not in REGISTRY.spec(i).tags]  # named by id or `large` only
    assert REGISTRY.select("gridworld") == fixed
    with_instances = REGISTRY.select("gridworld", instances=1)
    assert with_instances[:len(fixed)] == fixed and len(with_instances) > len(fixed)


def test_instances_run_to_the_same_files_on_a_dask_cluster(tmp_path):
    from distributed import LocalCluster

    from rlbench_icl.cli import main

    grid = ["run", "--agent", "random", "--tasks", "BernoulliBandit-v0,Maze-v0", "--instances",
            "1", "--instance-seed", "3", "--seeds", "1", "--episodes", "3", "--quiet",
            "--protocol", "online"]
    assert main([*grid, "--jobs", "1", "--out", str(tmp_path / "local")]) == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert main([*grid, "--backend", "dask", "--scheduler", cluster.scheduler_address,
                     "--out", str(tmp_path / "dask")]) == 0

    def files(d):
        return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("seed-*.json"))}

    local = files(tmp_path / "local")
    assert len(local) == 2 and local == files(tmp_path / "dask")
