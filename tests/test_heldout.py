"""The leaderboard's ranking on a test suite of family instances, with the dev->test gap."""

import csv
import io

import pytest

from rlbench_icl import load_registry
from rlbench_icl.cli import main
from rlbench_icl.leaderboard import build_leaderboard
from rlbench_icl.leaderboard.entries import stream_id
from rlbench_icl.leaderboard.heldout import family_matrix
from rlbench_icl.scoring import (
    BootstrapConfig,
    aggregate_with_ci,
    iqm,
    iqm_difference_with_ci,
)

FAST = BootstrapConfig(resamples=200)
FAMILIES = """
[[family]]
id = "TinyArms-v0"
description = "tiny bandits"
tags = ["tinyfam"]
builder = "gap_bandit"
horizon = 3
episodes = 6
[family.params]
num_arms = { int = [2, 3] }
best_mean = 0.8
gap = { uniform = [0.2, 0.3] }
seed = { seed = true }
[family.offline]
dataset_episodes = [2, 4]
epsilons = [1.0, 0.5]

[[family]]
id = "TinyChains-v0"
description = "tiny chains"
tags = ["tinyfam"]
builder = "riverswim"
horizon = 6
episodes = 6
[family.params]
num_states = { int = [3, 4] }
[family.offline]
dataset_episodes = [2, 4]
epsilons = [1.0, 0.5]

[[suite]]
name = "tinydev"
description = "the tiny tasks and one instance per family"
tasks = "tiny"
families = "tinyfam"
instance_seed = 0
instances = 1
seeds = 2

[[suite]]
name = "tinytest"
description = "two fresh instances per family"
tasks = ""
families = "tinyfam"
instance_seed = 99
instances = 2
seeds = 2
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory, tiny_tasks):
    (tiny_tasks / "fam.toml").write_text(FAMILIES)
    out = tmp_path_factory.mktemp("heldout") / "results"
    for agent in ("random", "ucbvi"):
        for suite in ("tinydev", "tinytest"):
            assert main(["run", "--agent", agent, "--tasks", suite, "--seeds", "2",
                         "--protocol", "online", "--jobs", "1", "--quiet", "--out", str(out),
                         "--task-path", str(tiny_tasks)]) == 0
    yield out, load_registry([tiny_tasks])
    (tiny_tasks / "fam.toml").unlink()


def test_the_front_page_ranks_on_test_with_the_dev_to_test_gap(stored, tmp_path):
    results, registry = stored
    summary = build_leaderboard(results, tmp_path, registry, FAST, suite_tag="tinydev",
                                test_suite="tinytest")
    assert summary["test online"] == ["ucbvi", "random"]
    assert (tmp_path / "figures" / "online_test_heatmap.svg").exists()
    page = (tmp_path / "README.md").read_text()
    assert page.index("Test suite, online") < page.index("## Online: mean normalised")
    assert "dev→test gap [95% CI]" in page and "per family" in page
    rows = csv.DictReader(io.StringIO((tmp_path / "online_test_leaderboard.csv").read_text()))
    ucbvi = next(r for r in rows if r["submission"] == "ucbvi")
    assert ucbvi["rank"] == "1" and ucbvi["runs"] == "8"  # 2 families x 2 instances x 2 seeds
    assert float(ucbvi["test IQM low"]) <= float(ucbvi["test IQM"]) <= float(
        ucbvi["test IQM high"])
    assert float(ucbvi["dev→test gap low"]) <= float(ucbvi["dev→test gap"])
    families = (tmp_path / "online_test_families.csv").read_text()
    assert "TinyArms-v0" in families and "TinyChains-v0" in families


def test_the_family_matrix_and_the_gap_are_what_they_say(stored, tmp_path):
    from rlbench_icl.leaderboard import load_results, make_entries

    results, registry = stored
    loaded = load_results(results, registry)
    test = make_entries(loaded, "online", registry.select("tinytest"), 2)
    dev = make_entries(loaded, "online", registry.select("tinydev"), 2)
    entry = next(e for e in test if e.name == "ucbvi")
    families, matrix = family_matrix(entry, "online")
    assert families == ["TinyArms-v0", "TinyChains-v0"] and matrix.shape == (4, 2)
    scores = {(r["task"]["id"], r["seed"]): r["result"]["scores"]["online_score"]
              for r in entry.records}
    assert matrix[:, 0].tolist() == [scores[("TinyArms-v0-s99-i0", 0)],
                                     scores[("TinyArms-v0-s99-i0", 1)],
                                     scores[("TinyArms-v0-s99-i1", 0)],
                                     scores[("TinyArms-v0-s99-i1", 1)]]
    from rlbench_icl.leaderboard.entries import score_matrix

    dev_matrix = score_matrix(next(e for e in dev if e.name == "ucbvi"), "online")
    point, lo, hi = iqm_difference_with_ci(dev_matrix, matrix, FAST, 1)
    assert point == pytest.approx(float(iqm(dev_matrix) - iqm(matrix)))
    assert lo <= point <= hi
    assert point == iqm_difference_with_ci(dev_matrix, matrix, FAST, 1)[0]  # seeded

    # the test ranking draws an instance's seeds together (rows come instance by instance)
    from rlbench_icl.leaderboard.heldout import rank_test

    ranked = {r.entry.name: r for r in rank_test(test, "online", FAST)}
    config = ranked["ucbvi"].bootstrap
    assert config.cluster == 2 and "instances drawn with all their seeds" in config.method
    assert ranked["ucbvi"].aggregates == aggregate_with_ci(matrix, config, stream_id(
        "online", "ucbvi", "test"))


def test_a_missing_test_run_keeps_a_submission_off_the_test_ranking(stored, tmp_path):
    import shutil

    results, registry = stored
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    next((copy / "ucbvi" / "online").glob("TinyChains-v0-s99-i1/seed-1.json")).unlink()
    summary = build_leaderboard(copy, tmp_path / "board", registry, FAST,
                                suite_tag="tinydev", test_suite="tinytest", figures=False)
    assert summary["test online"] == ["random"]
    rows = csv.DictReader(io.StringIO(
        (tmp_path / "board" / "online_test_leaderboard.csv").read_text()))
    ucbvi = next(r for r in rows if r["submission"] == "ucbvi")
    assert ucbvi["status"] == "incomplete" and ucbvi["test IQM"] == ""
    assert ucbvi["note"].startswith("missing 1 of 8 runs")


def test_a_model_is_shown_beside_its_own_inputs(stored, tmp_path):
    from rlbench_icl.leaderboard import load_results, make_entries
    from rlbench_icl.leaderboard.entries import rank_entries
    from rlbench_icl.leaderboard.inputs import load_pairs, write_inputs_table

    assert ("gnn-fm", "rmax-plan") in load_pairs()
    results, registry = stored
    loaded = load_results(results, registry)
    ranked = {"tinydev online": rank_entries(
        make_entries(loaded, "online", registry.select("tinydev"), 2), "online", FAST)}
    section = write_inputs_table(tmp_path, ranked, [("ucbvi", "random"),
                                                     ("gnn-fm", "rmax-plan")])
    rows = (tmp_path / "model_vs_inputs.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("ucbvi,random,tinydev online,")
    assert "What the network adds" in section
    assert write_inputs_table(tmp_path / "none", ranked, [("gnn-fm", "rmax-plan")]) == ""


def test_the_test_suite_can_be_drawn_from_another_seed(stored, tmp_path):
    results, registry = stored
    summary = build_leaderboard(results, tmp_path, registry, FAST, suite_tag="tinydev",
                                test_suite="tinytest", instance_seed=5, figures=False)
    assert "test online" not in summary  # nobody ran those instances
    assert "instance seed 5" in (tmp_path / "README.md").read_text()


@pytest.fixture(scope="module")
def stored_offline(stored, tmp_path_factory, tiny_tasks):
    out = tmp_path_factory.mktemp("heldout-offline") / "results"
    for agent in ("random", "vi-lcb"):
        assert main(["run", "--agent", agent, "--tasks", "tinytest", "--seeds", "2",
                     "--protocol", "offline", "--jobs", "1", "--quiet", "--out", str(out),
                     "--task-path", str(tiny_tasks)]) == 0
    return out, stored[1]


def test_the_test_suite_has_offline_scores_by_dataset_size_with_families_as_strata(
        stored_offline, tmp_path):
    import numpy as np

    from rlbench_icl.leaderboard import load_results, make_entries

    results, registry = stored_offline
    build_leaderboard(results, tmp_path, registry, FAST, suite_tag="tinydev",
                      test_suite="tinytest", figures=False)
    rows = {r["submission"]: r for r in csv.DictReader(io.StringIO(
        (tmp_path / "offline_test_by_dataset_size.csv").read_text()))}
    assert set(rows) == {"vi-lcb", "random"}
    assert "Test suite, offline IQM by dataset size" in (tmp_path / "README.md").read_text()
    entry = next(e for e in make_entries(load_results(results, registry), "offline",
                                         registry.select("tinytest"), 2) if e.name == "vi-lcb")
    for size in (2, 4):  # a run's mean over behaviours at the size, one column per family
        matrix = family_matrix(entry, "offline", lambda r, size=size: np.mean(
            [c["normalised_value"] for c in r["result"]["cells"]
             if c["dataset_episodes"] == size]))[1]
        assert matrix.shape == (4, 2)
        low, point, high = (float(rows["vi-lcb"][f"IQM at {size}{x}"])
                            for x in (" low", "", " high"))
        assert point == pytest.approx(float(iqm(matrix)), abs=1e-6) and low <= point <= high
    assert rows["random"]["IQM at 2"] == "0.000000"  # never "-0.000000"
