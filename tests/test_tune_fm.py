"""experiments/tune_fm.py's run store and paired intervals (the nineteenth attempt resumes
from the store across sessions, and its decision reads the interval), and the scripts of
experiments/paper_fm/ that cost, draw and decide gnn-fm-paper's releases."""

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "experiments" / "tune_fm.py"
W64 = SCRIPT.parent / "paper_fm" / "progress" / "w64"  # gnn-fm-paper's first scale, kept
_spec = importlib.util.spec_from_file_location("tune_fm_script", SCRIPT)
tune_fm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tune_fm)
HEADER = "# tune_fm runs: sweep=refresh18 suite=gaps episodes=300 checkpoint=0123456789ab"


def test_runs_are_stored_by_row_mdp_and_seed_and_read_back_bit_for_bit(tmp_path):
    path = tmp_path / "runs.csv"
    assert tune_fm.read_runs(path, HEADER) == {}
    tune_fm.append_run(path, (0, 2, 1), 0.1 + 0.2, first=64)  # MDP 66, seed 1
    tune_fm.append_run(path, (1, 2, 1), -1.5, first=64)
    runs = tune_fm.read_runs(path, HEADER)
    assert runs == {(0, 66, 1): 0.1 + 0.2, (1, 66, 1): -1.5}


def test_a_line_cut_short_by_a_stop_is_dropped_so_its_run_is_made_again(tmp_path):
    path = tmp_path / "runs.csv"
    tune_fm.read_runs(path, HEADER)
    tune_fm.append_run(path, (0, 0, 0), 0.25, first=0)
    with open(path, "a") as f:
        f.write("0,1,0,0.9608")  # the stop came mid-line: a number, but not the score
    assert tune_fm.read_runs(path, HEADER) == {(0, 0, 0): 0.25}
    assert path.read_text().endswith("0.25\n")
    tune_fm.append_run(path, (0, 1, 0), 0.9608183922427638, first=0)
    assert tune_fm.read_runs(path, HEADER)[(0, 1, 0)] == 0.9608183922427638


def test_runs_of_another_sweep_budget_or_network_are_refused(tmp_path):
    path = tmp_path / "runs.csv"
    tune_fm.read_runs(path, HEADER)
    with pytest.raises(SystemExit, match="holds other runs"):
        tune_fm.read_runs(path, HEADER.replace("episodes=300", "episodes=100"))


def test_the_paired_interval_resamples_mdps_with_their_seeds():
    same = np.full((50, 3), 0.01)
    assert tune_fm.paired_interval(same) == pytest.approx((0.01, 0.01, 0.01))
    rng = np.random.default_rng(0)
    noisy = rng.normal(-0.03, 0.2, size=(400, 1))
    mean, low, high = tune_fm.paired_interval(noisy)
    assert low < mean < high and high - low == pytest.approx(4 * 0.2 / 20, rel=0.2)
    assert tune_fm.paired_interval(noisy) == (mean, low, high)  # seeded


def test_the_paper_fm_cadences_are_the_declared_candidates_and_everything_else_is_its_own():
    """experiments/paper_fm/cadence.py: the cadence rule's two candidates (f = 4, floor 0
    and floor 1) are gnn-fm-paper re-reading on that schedule, with its own temperature,
    reading; they read w64 as kept in progress/w64 (release 1.1's weights), not the shipped
    network; release 1.1 shipped the second; release 2 (w256) reads with (16, 1);
    paper-refresh30 pairs (4, 1) with the paper's cadence."""
    from rlbench_icl import TaskInfo, default_registry
    from rlbench_icl.discovery import resolve
    from rlbench_icl.fm.policy import checkpoint_version

    paper = resolve("gnn-fm-paper")[1]
    info = TaskInfo.from_task(default_registry().make("Bandit10-v0"), 5)
    for name, schedule in (("gnn-fm-paper-f4", (4.0, 0.0)), ("gnn-fm-paper-f4m1", (4.0, 1.0))):
        submission = resolve(f"{SCRIPT.parent}/paper_fm/cadence.py::{name}")[1]
        agent = submission.make_online_agent(info, np.random.default_rng(0))
        assert (agent.refresh_ratio, agent.refresh_floor) == schedule
        assert (agent.temperature, agent.reading) == (1.0, tune_fm.Reading(rounds=24))
        assert submission.version == checkpoint_version("candidate", W64)  # not the shipped
    shipped = paper.make_online_agent(info, np.random.default_rng(0))  # release 2: (16, 1)
    assert (shipped.refresh_ratio, shipped.refresh_floor) == (16.0, 1.0)
    assert paper.version == checkpoint_version("2", W64.parent / "w256")
    rows = [tune_fm.Setting(*row) for row in tune_fm.SWEEPS["paper-refresh30"]]
    assert [(s.refresh, s.refresh_floor) for s in rows] == [(1.0, 0.0), (4.0, 1.0)]
    assert rows[0] == tune_fm.Setting(*tune_fm.SWEEPS["paper-refresh"][0])


def test_a_cadence_variant_can_read_another_export_and_names_and_certifies_it():
    """``refresh_variant(..., checkpoint=DIR)`` (how a wider scale's cadence is costed): the
    agent reads DIR's network, the variant declares DIR's files, and its frozen-state hash
    and version are DIR's weights', never the shipped checkpoint's."""
    from rlbench_icl import TaskInfo, default_registry
    from rlbench_icl.discovery import SUBMISSIONS_DIR, resolve
    from rlbench_icl.fm.policy import load_network, weights_hash
    from rlbench_icl.tuning import refresh_variant

    other = SUBMISSIONS_DIR / "gnn_fm_checkpoint"  # any train-fm export will do
    variant = refresh_variant("gnn_fm_paper.py", "wider", "READING", 4.0, 1.0, other)
    info = TaskInfo.from_task(default_registry().make("Bandit10-v0"), 5)
    agent = variant.make_online_agent(info, np.random.default_rng(0))
    assert agent.network is load_network(other)
    assert (agent.refresh_ratio, agent.refresh_floor) == (4.0, 1.0)
    assert variant.files == (str(other / "model.safetensors"), str(other / "config.json"))
    assert variant.frozen_state() == weights_hash(load_network(other))
    assert variant.frozen_state() != resolve("gnn-fm-paper")[1].frozen_state()
    assert variant.version.startswith("candidate+")


def test_the_scales_curves_average_each_reading_with_the_four_before_it(tmp_path):
    """experiments/paper_fm/curves.py: the thick lines are running means over 5 readings
    (fewer at the start), and the figure is written in the leaderboard's three formats."""
    path = SCRIPT.parent / "paper_fm" / "curves.py"
    spec = importlib.util.spec_from_file_location("paper_fm_curves", path)
    curves = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(curves)
    values = np.array([0.1, 0.5, 0.2, 0.9, 0.4, 0.3, 0.8])
    expected = [values[max(0, i - 4):i + 1].mean() for i in range(len(values))]
    np.testing.assert_allclose(curves.running_mean(values), expected)
    log = [{"step": s, "val_normalised_value": v, "val_median_normalised_value": v}
           for s, v in zip((50, 100, 150), (0.2, 0.3, 0.4), strict=True)]
    written = curves.draw({"width 64": log}, tmp_path / "curves")
    assert sorted(p.suffix for p in written) == [".pdf", ".png", ".svg"]
    assert all(p.stat().st_size > 0 for p in written)


def test_w256s_cadence_sweep_is_the_paper_cadence_then_the_declared_cost_ladder(monkeypatch):
    """paper-refresh-w256: row 0 is the paper's cadence (the same setting as the earlier
    rules' row 0), rows 1-4 the ladder experiments/paper_fm/cadence_w256.py costs, in its
    order, with floor 1."""
    # w256's export exists only once it finished training: any export will do here.
    monkeypatch.setenv("CKPT", str(W64))
    spec = importlib.util.spec_from_file_location(
        "cadence_w256", SCRIPT.parent / "paper_fm" / "cadence_w256.py")
    ladder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ladder)
    rows = [tune_fm.Setting(*row) for row in tune_fm.SWEEPS["paper-refresh-w256"]]
    assert rows[0] == tune_fm.Setting(*tune_fm.SWEEPS["paper-refresh"][0])
    assert [(s.refresh, s.refresh_floor) for s in rows[1:]] == [(f, 1.0) for f in ladder.LADDER]
    assert all(s._replace(refresh=1.0, refresh_floor=0.0) == rows[0] for s in rows)


@pytest.mark.parametrize("rows, against, complaint", [
    ([0, 5], 0, "--rows: row 5 is not in this sweep"),
    ([1, 2], 0, "--against 0: that row is not among --rows 1,2"),
    (None, 9, "--against: row 9 is not in this sweep"),
])
def test_rows_outside_the_sweep_or_a_baseline_not_run_are_refused(rows, against, complaint):
    import argparse

    settings = [tune_fm.Setting(*row) for row in tune_fm.SWEEPS["paper-refresh-w256"]]
    with pytest.raises(SystemExit, match=complaint):
        tune_fm.chosen_rows(argparse.Namespace(rows=rows, against=against), settings)
    with pytest.raises(argparse.ArgumentTypeError, match="names a row twice"):
        tune_fm._row_list("0,2,2")


def test_rows_keep_their_numbers_so_a_row_added_later_reuses_the_stored_runs(tmp_path):
    """Running rows 0 and 2, then 0, 1 and 2 into the same --runs file: the second run
    makes only row 1's runs, and its table and paired rows are numbered as in the sweep."""
    import subprocess
    import sys

    runs = tmp_path / "runs.csv"

    def sweep(rows: str) -> str:
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--sweep", "paper-refresh-w256", "--rows", rows,
             "--against", "0", "--checkpoint", str(W64), "--suite", "gaps",
             "--first", "1820", "--mdps", "2", "--seeds", "1", "--episodes", "3",
             "--runs", str(runs)],
            capture_output=True, text=True, check=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout

    first = sweep("0,2")
    lines = runs.read_text().splitlines()
    assert [line.split(",")[:2] for line in lines[2:]] == [
        ["0", "1820"], ["0", "1821"], ["2", "1820"], ["2", "1821"]]
    second = sweep("0,1,2")
    assert runs.read_text().splitlines()[:6] == lines  # rows 0 and 2 not made again
    assert [line.split(",")[:2] for line in runs.read_text().splitlines()[6:]] == [
        ["1", "1820"], ["1", "1821"]]
    table = [line.split("|")[1].strip() for line in second.splitlines()
             if line.startswith("| ") and "online" in line]
    assert table == ["0", "1", "2"]
    assert [line.split("|")[1].strip() for line in first.splitlines()
            if line.startswith("| ") and "online" in line] == ["0", "2"]
    paired = second.split("Paired against row 0")[1]
    assert [line.split("|")[1].strip() for line in paired.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip().isdigit()] == ["1", "2"]


def _decide():
    path = SCRIPT.parent / "paper_fm" / "decide.py"
    spec = importlib.util.spec_from_file_location("paper_fm_decide", path)
    decide = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(decide)
    return decide


def test_the_scale_rule_ships_the_smallest_scale_within_001_of_the_best(tmp_path):
    """w64 and w128 as they finished (0.405, 0.407): w64; a wider scale 0.05 above both
    ships itself; one that has not finished its declared steps decides nothing."""
    decide = _decide()
    assert decide.choose_scale({64: 0.4054, 128: 0.4074}) == 64
    assert decide.choose_scale({64: 0.4054, 128: 0.4074, 256: 0.4611}) == 256
    assert decide.choose_scale({64: 0.452, 128: 0.4074, 256: 0.4611}) == 64
    assert decide.choose_scale({64: 0.40, 128: 0.455, 256: 0.4611}) == 128
    config = SCRIPT.parent / "paper_fm" / "w256.toml"  # 7,000 steps
    log = tmp_path / "log.jsonl"
    for step, rows in ((6995, "not decided: w256 is at step 6,995 of 7,000"),
                       (7000, "w256 ships")):
        log.write_text(json.dumps({"step": 100, "val_normalised_value": 0.1}) + "\n"
                       + json.dumps({"step": step, "val_normalised_value": 0.46}) + "\n")
        scales = {64: (W64 / "train_log.jsonl", SCRIPT.parent / "paper_fm" / "w64.toml"),
                  256: (log, config)}
        assert decide.scale(scales)[1] == rows
    # beside the rule, the last readings' range, for context: a dip in the last decides
    log.write_text("".join(json.dumps({"step": 50 * i, "val_normalised_value": v}) + "\n"
                           for i, v in enumerate((0.9, 0.46, 0.44, 0.47, 0.45, 0.41))))
    rows, decision = decide.scale({256: (log, config)})
    assert rows[0][2:] == ["0.4100", "0.4100 - 0.4700"] and decision.startswith("not decided")


def test_the_kept_w64_is_the_network_its_committed_records_were_made_with():
    """progress/w64 holds w64's export and log whichever scale ships: its weights are those
    every committed w64 cadence record names, and its log reaches its declared steps."""
    import hashlib

    digest = hashlib.sha256((W64 / "model.safetensors").read_bytes()).hexdigest()[:12]
    records = sorted((SCRIPT.parent / "paper_fm" / "refresh").glob("w64-*.csv"))
    assert records and all(f"checkpoint={digest}" in path.read_text().splitlines()[0]
                           for path in records)
    assert json.loads((W64 / "config.json").read_text())["train"]["model"]["width"] == 64
    last = json.loads((W64 / "train_log.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 1500


def test_the_cost_half_reads_task_costs_tables_as_committed():
    """Release 1.1's cost record: its worst dev task is GarnetS100A6B10 at 1.95 s against
    UCB-VI's 1.54 s."""
    ratios = _decide().cost_ratios(SCRIPT.parent / "paper_fm" / "costs-f4m1-dev-seed0.txt",
                                   "gnn-fm-paper-f4m1")
    worst = max(ratios, key=ratios.get)
    assert (worst, ratios[worst]) == ("GarnetS100A6B10-v0", pytest.approx(1.95 / 1.54))
    assert "**total**" not in ratios and len(ratios) > 20


FINAL = b"the final export"  # the tests' stand-in for w256's weights


def _cost_table(path: Path, name: str, seconds: dict[str, tuple[str, str]],
                weights: bytes = FINAL) -> None:
    """A task_costs.py table as it prints it: each column's version, then the table."""
    import hashlib

    from tabulate import tabulate

    column = f"experiments/paper_fm/cadence_w256.py::{name} online"
    rows = [[task, *cells] for task, cells in seconds.items()]
    path.write_text(
        f"ucbvi online: version 1\n{column}: version "
        f"candidate+{hashlib.sha256(weights).hexdigest()[:12]}\n" + tabulate(
            rows + [["**total**", "1.0", "1.0"]],
            headers=["task", "ucbvi online", column], tablefmt="github",
            disable_numparse=True) + "\n")


def _score_table(path: Path, means: dict[int, float], capsys, weights: Path) -> float:
    """A tune_fm.py table whose row ``r`` differs from row 0 by ``means[r]`` on average
    (200 MDPs, differences spread evenly over +-0.01 around it: the CI is about +-0.0008),
    with its header and its runs file's provenance as refresh.sh makes them from
    ``weights``; returns the lower end the table prints."""
    import hashlib

    settings = [tune_fm.Setting(*row) for row in tune_fm.SWEEPS["paper-refresh-w256"]]
    mdps, suite = 200, path.stem.split("-")[-1]
    table = {0: [0.5] * mdps}
    for row, mean in means.items():
        table[row] = list(0.5 + mean + np.linspace(-0.01, 0.01, mdps))
    tune_fm.print_paired(settings, table, 0, mdps, 1)
    path.write_text(f"200 synthetic tuning MDPs ({suite} suite), 1 seeds, 300 episodes; "
                    f"network {weights.parent.name}\n" + capsys.readouterr().out)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    path.with_suffix(".csv").write_text(
        f"# tune_fm runs: sweep=paper-refresh-w256 suite={suite} episodes=300 "
        f"checkpoint={digest}\nrow,mdp,seed,score\n" + "".join(
            f"{row},{1820 + i},0,{float(value)!r}\n" for row, values in table.items()
            for i, value in enumerate(values)))
    row = max(means)
    low = _decide().paired_lower_ends(path)[row]
    assert means[row] - 0.0012 < low < means[row] - 0.0004
    return low


def _w256_ships(tmp_path: Path) -> dict:
    """Scales whose rule ships w256 (a finished log 0.05 above w64's)."""
    log = tmp_path / "w256.jsonl"
    log.write_text(json.dumps({"step": 7000, "val_normalised_value": 0.46}) + "\n")
    return {64: (W64 / "train_log.jsonl", SCRIPT.parent / "paper_fm" / "w64.toml"),
            256: (log, SCRIPT.parent / "paper_fm" / "w256.toml")}


DEV = {"GarnetS100A6B10-v0", "Bandit10-v0"}


def test_the_cadence_rule_ships_the_first_candidate_passing_both_halves(tmp_path, capsys):
    decide = _decide()
    weights = tmp_path / "w256" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(FINAL)
    (tmp_path / "refresh").mkdir()

    def cadence():
        return decide.cadence(tmp_path, _w256_ships(tmp_path), weights, DEV)

    assert cadence()[1].startswith("not decided: costs-w256-f4m1-dev-seed0.txt is missing")
    cheap = {"GarnetS100A6B10-v0": ("1.54", "4.00"), "Bandit10-v0": ("0.07", "0.08")}
    for seed in (0, 1):  # f = 4 costs 4.6x on one seed: dropped
        _cost_table(tmp_path / f"costs-w256-f4m1-dev-seed{seed}.txt", "w256-f4m1",
                    cheap if seed == 0 else {"GarnetS100A6B10-v0": ("1.54", "7.10"),
                                             "Bandit10-v0": ("0.07", "0.08")})
        _cost_table(tmp_path / f"costs-w256-f8m1-dev-seed{seed}.txt", "w256-f8m1",
                    {"GarnetS100A6B10-v0": ("1.54", "4.60"), "Bandit10-v0": ("0.09", "0.27")})
    rows, decision = cadence()
    assert rows[0][1] == "fails (4.61x on GarnetS100A6B10-v0)"
    assert rows[1][1] == "passes (3.00x)"  # 0.27 s against 0.09 s: at the bar, not above
    assert decision == ("not decided: w256-f8m1's score on gaps is missing "
                        "(refresh.sh with ROWS=0,2)")
    for suite, mean in (("gaps", -0.015), ("default", +0.001)):
        _score_table(tmp_path / "refresh" / f"w256-{suite}.txt", {2: mean}, capsys, weights)
    assert "score on explore is missing" in cadence()[1]
    explore = tmp_path / "refresh" / "w256-explore.txt"
    assert _score_table(explore, {2: -0.0195}, capsys, weights) < -0.02
    assert cadence()[1] == "not decided: costs-w256-f16m1-dev-seed0.txt " \
        "is missing (cost half of w256-f16m1)"  # its mean is above -0.02, its CI is not
    _score_table(explore, {2: -0.005}, capsys, weights)
    rows, decision = cadence()
    assert decision == "w256-f8m1 ships (f = 8, floor 1)"
    assert rows[1][2].endswith("(passes)")
    partly = tmp_path / "costs-w256-f16m1-dev-seed0.txt"  # a later candidate, partly timed
    _cost_table(partly, "w256-f16m1", {"GarnetS100A6B10-v0": ("1.54", "2.00")})
    assert cadence()[1] == "w256-f8m1 ships (f = 8, floor 1)"
    partly.unlink()
    _score_table(explore, {2: -0.03}, capsys, weights)
    for f in (16, 32):
        for seed in (0, 1):
            _cost_table(tmp_path / f"costs-w256-f{f}m1-dev-seed{seed}.txt", f"w256-f{f}m1",
                        {"GarnetS100A6B10-v0": ("30.00", "failed"),
                         "Bandit10-v0": ("0.07", "0.08")})
    assert cadence()[1] == ("no candidate passes both halves: w256-f8m1 (f = 8, floor 1) "
                            "ships, the first within the cost bar (rule 3)")
    for seed in (0, 1):
        _cost_table(tmp_path / f"costs-w256-f8m1-dev-seed{seed}.txt", "w256-f8m1",
                    {"GarnetS100A6B10-v0": ("1.54", "4.63"), "Bandit10-v0": ("0.09", "0.27")})
    assert cadence()[1] == ("no candidate passes the cost half: the paper's cadence (f = 1, "
                            "floor 0) ships")


def test_one_suite_below_the_bar_fails_a_candidate_before_the_other_suites_are_in(
        tmp_path, capsys):
    """A candidate whose CI lower end is below -0.02 on one finished suite fails the score
    half whatever the missing suites show: the rule moves on to the next candidate's cost,
    and if rule 3 then ships it, says which of its scores are still to be made."""
    decide = _decide()
    weights = tmp_path / "w256" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(FINAL)
    (tmp_path / "refresh").mkdir()
    cheap = {"GarnetS100A6B10-v0": ("1.54", "2.00"), "Bandit10-v0": ("0.07", "0.08")}
    for seed in (0, 1):
        _cost_table(tmp_path / f"costs-w256-f4m1-dev-seed{seed}.txt", "w256-f4m1", cheap)
    _score_table(tmp_path / "refresh" / "w256-gaps.txt", {1: -0.005}, capsys, weights)
    _score_table(tmp_path / "refresh" / "w256-default.txt", {1: -0.03}, capsys, weights)

    def cadence():
        return decide.cadence(tmp_path, _w256_ships(tmp_path), weights, DEV)

    rows, decision = cadence()
    assert rows[0][2].startswith("gaps -0.00") and rows[0][2].endswith(
        "explore: not run (fails)")
    assert decision == "not decided: costs-w256-f8m1-dev-seed0.txt is missing (cost half " \
        "of w256-f8m1)"
    for f in (8, 16, 32):
        _cost_table(tmp_path / f"costs-w256-f{f}m1-dev-seed0.txt", f"w256-f{f}m1",
                    {"GarnetS100A6B10-v0": ("1.00", "3.10")})
    assert cadence()[1] == (
        "no candidate passes both halves: w256-f4m1 (f = 4, floor 1) ships, the first within "
        "the cost bar (rule 3); its score on explore is still to be made, to report beside "
        "it (refresh.sh with ROWS=0,1)")
    _score_table(tmp_path / "refresh" / "w256-explore.txt", {1: +0.01}, capsys, weights)
    rows, decision = cadence()
    assert rows[0][2].endswith("(fails)") and decision.endswith("(rule 3)")


def test_one_costly_dev_task_on_one_seed_drops_a_candidate_without_the_rest(tmp_path):
    """The costliest task timed first: a table of it alone, on one seed, above 3x, fails
    the candidate (no other task or seed could save it), and the ladder moves on; the same
    partial tables within 3x are no pass: refused once both seeds are in."""
    decide = _decide()
    weights = tmp_path / "w256" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(FINAL)
    (tmp_path / "refresh").mkdir()
    costly = {"GarnetS100A6B10-v0": ("1.54", "5.00")}
    _cost_table(tmp_path / "costs-w256-f4m1-dev-seed0.txt", "w256-f4m1", costly)
    rows, decision = decide.cadence(tmp_path, _w256_ships(tmp_path), weights, DEV)
    assert rows[0][1] == "fails (3.25x on GarnetS100A6B10-v0)"
    assert decision.startswith("not decided: costs-w256-f8m1-dev-seed0.txt is missing")
    within = {"GarnetS100A6B10-v0": ("1.54", "4.62")}  # 3.0x: at the bar, not above

    def decision() -> str:
        return decide.cadence(tmp_path, _w256_ships(tmp_path), weights, DEV)[1]

    _cost_table(tmp_path / "costs-w256-f8m1-dev-seed0.txt", "w256-f8m1", within)
    partly = ("not decided: costs-w256-f8m1-dev-seed{} covers only some dev tasks (cost half "
              "of w256-f8m1: time every dev task)")
    assert decision() == partly.format("0.txt")  # not "seed 1 is missing" alone
    _cost_table(tmp_path / "costs-w256-f8m1-dev-seed1.txt", "w256-f8m1", within)
    assert decision() == partly.format("0.txt")
    _cost_table(tmp_path / "costs-w256-f8m1-dev-seed0.txt", "w256-f8m1",
                {**within, "Bandit10-v0": ("0.07", "0.08")})  # seed 0 whole, seed 1 not
    assert decision() == partly.format("1.txt")
    _cost_table(tmp_path / "costs-w256-f8m1-dev-seed1.txt", "w256-f8m1", costly)
    assert decide.cadence(tmp_path, _w256_ships(tmp_path), weights, DEV)[0][1][1] == (
        "fails (3.25x on GarnetS100A6B10-v0)")  # seed 1 above the bar, seed 0 within it
    _cost_table(tmp_path / "costs-w256-f8m1-dev-seed0.txt", "w256-f8m1",
                {**costly, "Dense-v0": ("1.00", "9.00")})  # not a dev task: refused
    with pytest.raises(decide.RecordError, match=r"not dev tasks: \['Dense-v0'\]"):
        decide.cadence(tmp_path, _w256_ships(tmp_path), weights, DEV)


def test_the_cadence_rule_waits_for_w256_and_refuses_records_not_as_declared(tmp_path,
                                                                             capsys):
    decide = _decide()
    weights = tmp_path / "w256" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(FINAL)
    (tmp_path / "refresh").mkdir()
    unfinished = _w256_ships(tmp_path)
    unfinished[256][0].write_text(json.dumps({"step": 6000, "val_normalised_value": 0.5}))
    assert decide.cadence(tmp_path, unfinished, weights, DEV)[1] == (
        "not applicable until the scale rule ships w256 (not decided: w256 is at step 6,000 "
        "of 7,000)")

    def refused(match: str) -> None:
        with pytest.raises(decide.RecordError, match=match):
            decide.cadence(tmp_path, _w256_ships(tmp_path), weights, DEV)

    cost = {"GarnetS100A6B10-v0": ("1.54", "2.00"), "Bandit10-v0": ("0.07", "0.08")}
    for seed in (0, 1):
        _cost_table(tmp_path / f"costs-w256-f4m1-dev-seed{seed}.txt", "w256-f8m1", cost)
    refused("no 'ucbvi online' and 'w256-f4m1 online' columns")  # another candidate's
    (tmp_path / "costs-w256-f4m1-dev-seed1.txt").write_text("")  # a crashed run's redirect
    _cost_table(tmp_path / "costs-w256-f4m1-dev-seed0.txt", "w256-f4m1", cost)
    refused("costs-w256-f4m1-dev-seed1.txt: no table of costs")
    for seed in (0, 1):
        _cost_table(tmp_path / f"costs-w256-f4m1-dev-seed{seed}.txt", "w256-f4m1",
                    {"Bandit10-v0": ("0.07", "0.08")})
    assert decide.cadence(tmp_path, _w256_ships(tmp_path), weights, DEV)[1].startswith(
        "not decided: costs-w256-f4m1-dev-seed0.txt covers only some dev tasks")
    _cost_table(tmp_path / "costs-w256-f4m1-dev-seed0.txt", "w256-f4m1", cost,
                weights=b"the step-5,815 export")  # timed on interim weights: no record
    refused(r"seed0.txt: w256-f4m1 timed candidate\+[0-9a-f]{12}, not candidate\+")
    for seed in (0, 1):
        _cost_table(tmp_path / f"costs-w256-f4m1-dev-seed{seed}.txt", "w256-f4m1", cost)
    _score_table(tmp_path / "refresh" / "w256-gaps.txt", {1: 0.0}, capsys, weights)
    runs = (tmp_path / "refresh" / "w256-gaps.csv").read_text().splitlines()
    (tmp_path / "refresh" / "w256-gaps.csv").write_text("\n".join(runs[:-1]) + "\n")
    refused(r"w256-gaps.csv: 1 of the rule's runs are missing \(e.g. row 1, MDP 2019")
    _score_table(tmp_path / "refresh" / "w256-gaps.txt", {1: 0.0}, capsys, weights)
    weights.write_bytes(b"weights of another step")
    refused(r"seed0.txt: w256-f4m1 timed candidate\+[0-9a-f]{12}, not candidate\+")
    for seed in (0, 1):  # costs timed on these weights, the score runs on the others
        _cost_table(tmp_path / f"costs-w256-f4m1-dev-seed{seed}.txt", "w256-f4m1", cost,
                    weights=b"weights of another step")
    refused(r"w256-gaps.csv: made as .*\(other weights than")

    def invalid():
        raise decide.RecordError("costs-w256-f4m1-dev-seed1.txt: no table of costs in it")

    decide.cadence = invalid  # the command line says so in one line and exits 2
    with pytest.raises(SystemExit) as exit_:
        decide.main(["cadence"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("invalid record: costs-w256-f4m1-dev-seed1.txt: no "
                                       "table of costs in it: remake it as the README says\n")
def test_validate_fm_pairs_the_network_with_its_plug_in_policy_mdp_by_mdp():
    """experiments/validate_fm.py: the paired difference (its CI and the MDPs each is ahead
    on) is printed beside the two summaries, on the trainer's validation stream."""
    import subprocess
    import sys

    path = SCRIPT.parent / "validate_fm.py"
    spec = importlib.util.spec_from_file_location("validate_fm_script", path)
    validate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(validate)
    line = validate.paired(np.array([0.5, 0.2, 0.3, 0.9]), np.array([0.4, 0.2, 0.5, 0.9]))
    assert "mean -0.025 [" in line and "ahead on 1, behind on 1, tied on 2" in line
    out = subprocess.run(
        [sys.executable, str(path), "--mdps", "16", "--checkpoint", str(W64)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout.splitlines()
    assert out[0].startswith("validation cross-entropy") and len(out) == 4
    n = int(out[1].split("n=")[1].rstrip(")"))
    counts = [int(w.rstrip(",")) for w in out[3].split("ahead on ")[1].split() if
              w.rstrip(",").isdigit()]
    assert 0 < n <= 16 and sum(counts) == n


def test_resampling_whole_instances_widens_the_interval_when_seeds_agree():
    """experiments/test_ci/clusters.py: when an instance's seeds score alike (as on the test
    suite), drawing cells as if independent understates the spread that drawing instances
    shows; the point IQM is the same either way."""
    path = SCRIPT.parent / "test_ci" / "clusters.py"
    spec = importlib.util.spec_from_file_location("test_ci_clusters", path)
    clusters = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(clusters)
    rng = np.random.default_rng(1)
    per_instance = rng.random((8, 1, 5))
    alike = np.repeat(per_instance, 3, axis=1) + 0.001 * rng.random((8, 3, 5))
    (a, b), (c, d) = clusters.intervals(alike)
    assert (d - c) > 1.3 * (b - a)
    cells = {(f"F{f}", i, s): float(alike[i, s, f]) for i in range(8) for s in range(3)
             for f in range(5)}
    np.testing.assert_array_equal(clusters.cube(cells), alike)
    del cells[("F0", 0, 0)]
    with pytest.raises(ValueError, match="every instance and seed"):
        clusters.cube(cells)


def _fm25(tmp_path, monkeypatch):
    path = SCRIPT.parent / "fm25" / "decide.py"
    spec = importlib.util.spec_from_file_location("fm25_decide", path)
    decide = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(decide)
    weights = {}
    for who in ("release", "candidate"):
        weights[who] = tmp_path / f"{who}.safetensors"
        weights[who].write_bytes(who.encode())
    monkeypatch.setattr(decide, "HERE", tmp_path)
    monkeypatch.setattr(decide, "WEIGHTS", weights)
    (tmp_path / "step1").mkdir()
    return decide


def _fm25_runs(decide, who, suite, means, mdps=64, first=2800, step=1):
    """A runs file whose row r scores means[r] + a per-MDP wobble on every MDP."""
    weights = decide.WEIGHTS[who.split("-")[0]]
    sha = tune_fm.hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    lines = [f"# tune_fm runs: sweep=temperature24 suite={suite} episodes=300 checkpoint={sha}",
             "row,mdp,seed,score"]
    lines += [f"{r},{first + m},0,{mean + 0.01 * (-1) ** m!r}"
              for r, mean in means.items() for m in range(mdps)]
    (decide.HERE / f"step{step}").mkdir(exist_ok=True)
    (decide.HERE / f"step{step}" / f"{who}-temperature24-{suite}.csv").write_text(
        "\n".join(lines) + "\n")


def test_the_25th_rule_picks_the_best_gaps_temperature_that_keeps_default(tmp_path,
                                                                         monkeypatch, capsys):
    """T* is the best `gaps` mean among temperatures within 0.01 of release 6.1 on
    `default`; it must also beat release 6.1 on `gaps` by 0.02, or the attempt stops."""
    decide = _fm25(tmp_path, monkeypatch)
    _fm25_runs(decide, "release", "gaps", {0: 0.60})
    _fm25_runs(decide, "release", "default", {0: 0.90})
    _fm25_runs(decide, "candidate", "gaps", {0: 0.61, 1: 0.63, 2: 0.70, 3: 0.75, 4: 0.80})
    _fm25_runs(decide, "candidate", "default", {0: 0.93, 1: 0.92, 2: 0.891, 3: 0.889, 4: 0.5})
    assert decide.step1() is True
    assert "T* = 0.3: go on to step 2 (experiments/fm25/steps.sh 2 2)" in capsys.readouterr().out
    _fm25_runs(decide, "release", "gaps", {0: 0.69})  # T = 0.3's 0.70 is no longer +0.02
    assert decide.step1() is False
    assert "below 0.7100 (release 6.1's + 0.02); the attempt stops" in capsys.readouterr().out
    _fm25_runs(decide, "release", "default", {0: 0.95})  # nothing within 0.01 of it
    assert decide.step1() is False
    assert "no temperature is eligible" in capsys.readouterr().out


def test_the_25th_rule_refuses_runs_not_as_declared(tmp_path, monkeypatch):
    decide = _fm25(tmp_path, monkeypatch)
    _fm25_runs(decide, "release", "gaps", {0: 0.60})
    with pytest.raises(decide.Missing, match="step1/release-temperature24-default.csv is missing"):
        decide.step1()
    _fm25_runs(decide, "release", "default", {0: 0.90}, mdps=63)
    with pytest.raises(decide.Missing, match="63 runs, not the 64 declared"):
        decide.step1()
    _fm25_runs(decide, "release", "default", {0: 0.90})
    decide.WEIGHTS["release"].write_bytes(b"other weights")
    with pytest.raises(decide.Missing, match="was not made as declared"):
        decide.step1()


def test_the_25th_rule_confirms_suite_by_suite_on_fresh_mdps(tmp_path, monkeypatch, capsys):
    """Step 2 pairs the candidate at the chosen row with release 6.1 by MDP: +0.02 on
    gaps, at least -0.01 on default and explore, and stops at the first suite that fails."""
    decide = _fm25(tmp_path, monkeypatch)
    fresh = {"mdps": 256, "first": 2900, "step": 2}
    for suite, release, candidate in (("gaps", 0.60, 0.63), ("default", 0.90, 0.895),
                                      ("explore", 0.75, 0.735)):
        _fm25_runs(decide, "release", suite, {0: release}, **fresh)
        _fm25_runs(decide, "candidate-row4", suite, {4: candidate}, **fresh)
    assert decide.step2(4, "default") is True
    assert decide.step2(4, "explore") is False
    out = capsys.readouterr().out
    assert "| explore, online | 0.7500        | 0.7350      | -0.0150" in out
    assert out.endswith("Decision: the attempt stops.\n")
    with pytest.raises(decide.Missing, match="candidate-row3-temperature24-gaps.csv is missing"):
        decide.step2(3, "gaps")  # another row's runs are files of their own
    path = tmp_path / "step2" / "release-temperature24-gaps.csv"
    path.write_text(path.read_text() + "0,3156,0,not a number\n")
    with pytest.raises(decide.Missing, match="line 259: '0,3156,0,not a number' is not a run"):
        decide.step2(4, "gaps")
