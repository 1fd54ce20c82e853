"""The leaderboard's figure set, its styles, the long scores table, the numeric CSVs and the
partial view of an incomplete submission."""

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest

from rlbench_icl import load_registry
from rlbench_icl.cli import main
from rlbench_icl.discovery import available
from rlbench_icl.leaderboard import Results, build_leaderboard, load_results
from rlbench_icl.leaderboard.long import LONG_COLUMNS, long_scores
from rlbench_icl.leaderboard.style import load_styles
from rlbench_icl.scoring import BootstrapConfig

FAST = BootstrapConfig(resamples=200)
SEEDS = 3
OKABE_ITO = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
             "#CC79A7", "#999999"}


@pytest.fixture(scope="module")
def board(tmp_path_factory, tiny_tasks) -> tuple[Path, Path, object]:
    """(results, leaderboard) of three submissions on two tiny tasks, vi-lcb incomplete (its
    offline run of TinyChain-v0 seed 2 missing), and the registry."""
    root = tmp_path_factory.mktemp("figures")
    results = root / "results"
    for agent in ("random", "ucbvi", "vi-lcb"):
        assert main(["run", "--agent", agent, "--tasks", "tiny", "--seeds", str(SEEDS),
                     "--jobs", "1", "--quiet", "--out", str(results),
                     "--task-path", str(tiny_tasks)]) == 0
    (results / "vi-lcb/offline/TinyChain-v0/seed-2.json").unlink()
    registry = load_registry([tiny_tasks])
    build_leaderboard(results, root / "out", registry, FAST, suite_tag="tiny", seeds=SEEDS)
    return results, root / "out", registry


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_every_reference_submission_has_a_stable_colour_blind_safe_style():
    styles = load_styles()
    assert set(available()) <= set(styles.reference), "add the new submission to styles.toml"
    looks = [(s.colour, s.marker, s.line) for s in styles.reference.values()]
    assert len(set(looks)) == len(looks)  # variants of a family differ in marker and line
    assert {s.colour for s in styles.reference.values()} <= OKABE_ITO
    assert all(s.reference and s.face == s.colour for s in styles.reference.values())


def test_a_user_submission_is_marked_and_keeps_its_style():
    styles = load_styles()
    mine = styles.of("my-agent")
    assert mine == styles.of("my-agent") and not mine.reference
    assert mine.face == "white" and mine.label("my-agent") == "my-agent (user)"
    assert mine.colour in styles.user_palette and mine.line not in {
        s.line for s in styles.reference.values()}


def test_the_figure_set_is_written_in_three_formats_without_timestamps(board):
    out = board[1] / "figures"
    stems = sorted({p.stem for p in out.iterdir()})
    assert stems == sorted([
        "online_interval_estimates", "online_performance_profiles",
        "online_probability_of_improvement", "online_heatmap", "online_sample_efficiency",
        "online_learning_curves", "online_cumulative_regret", "online_episodes_to_solve",
        "offline_interval_estimates", "offline_performance_profiles", "offline_heatmap",
        "offline_by_dataset_size"])  # offline: no P(> baseline), vi-lcb is incomplete
    for stem in stems:
        png, pdf, svg = ((out / f"{stem}.{ext}").read_bytes() for ext in ("png", "pdf", "svg"))
        assert png.startswith(b"\x89PNG") and b"Software" not in png
        assert pdf.startswith(b"%PDF") and b"CreationDate" not in pdf and b"Producer" not in pdf
        assert b"<dc:date>" not in svg and b"Matplotlib v" not in svg
    page = (board[1] / "README.md").read_text()
    assert "figures/online_heatmap.svg" in page and "figures/offline_by_dataset_size.pdf" in page


def test_figures_are_the_same_bytes_when_drawn_again(board, tmp_path):
    build_leaderboard(board[0], tmp_path, board[2], FAST, suite_tag="tiny", seeds=SEEDS)
    for path in sorted((board[1] / "figures").iterdir()):
        assert (tmp_path / "figures" / path.name).read_bytes() == path.read_bytes(), path.name


def test_an_incomplete_submission_is_drawn_and_tabled_for_what_it_ran(board):
    out = board[1]
    # matplotlib's SVG keeps every text as a comment beside its glyphs
    heatmap = (out / "figures/offline_heatmap.svg").read_text()
    assert "vi-lcb (incomplete)" in heatmap
    assert "vi-lcb" not in (out / "figures/offline_interval_estimates.svg").read_text()
    rows = {r["task"]: r for r in read_csv(out / "offline_tasks.csv")}
    assert set(rows) == {"TinyChain-v0", "TinyBandit-v0"}
    for row in rows.values():  # seeds 0-1 of TinyChain, 0-2 of TinyBandit: all ran
        low, mean, high = (float(row[f"vi-lcb (incomplete){k}"]) for k in (" low", "", " high"))
        assert low <= mean <= high
    table = (out / "offline_tasks.md").read_text()
    assert "vi-lcb (incomplete)" in table and "covers the seeds it ran" in table


def test_the_csvs_are_numeric_with_separate_interval_columns(board):
    out = board[1]
    for path in sorted(out.glob("*.csv")):
        text = path.read_text()
        assert not re.search(r"\[-?[0-9.]+, -?[0-9.]+\]", text), path.name
    rows = read_csv(out / "online_leaderboard.csv")
    assert [r["submission"] for r in rows] == ["ucbvi", "random"]
    for r in rows:
        assert float(r["IQM low"]) <= float(r["IQM"]) <= float(r["IQM high"])
        assert r["status"] == "ranked"
    assert rows[0]["P(> ucbvi)"] == "" and 0 <= float(rows[1]["P(> ucbvi)"]) <= 1
    offline = read_csv(out / "offline_leaderboard.csv")
    assert offline[-1]["submission"] == "vi-lcb" and offline[-1]["status"] == "incomplete"
    assert offline[-1]["IQM"] == "" and "TinyChain-v0 seed 2" in offline[-1]["note"]
    sizes = read_csv(out / "offline_by_dataset_size.csv")
    assert set(sizes[0]) == {"submission", "IQM at 2", "IQM at 2 low", "IQM at 2 high",
                             "IQM at 4", "IQM at 4 low", "IQM at 4 high"}


def test_scores_csv_holds_every_scored_unit(board):
    results, out, registry = board
    rows = read_csv(out / "scores.csv")
    assert tuple(rows[0]) == LONG_COLUMNS
    expected = long_scores(load_results(results, registry))
    # online: 2 submissions x 2 tasks x 3 seeds; offline: 11 runs x (2 sizes x 2 behaviours)
    assert len(rows) == len(expected) == 12 + 11 * 4
    for row, want in zip(rows, expected, strict=True):
        for key in ("submission", "protocol", "task", "seed", "status"):
            assert row[key] == str(want[key])
        assert float(row["score"]) == pytest.approx(want["score"], abs=1e-9)


def record(protocol: str, status: str = "ok", **result) -> dict:
    return {"submission": {"name": "x", "version": "2"}, "protocol": protocol,
            "task": {"id": "Garnet-v0-s7-i1"}, "seed": 4, "status": status,
            "result": result or None}


def test_long_scores_by_hand():
    online = record("online", scores={"online_score": 0.5, "final_score": 0.75,
                                      "cumulative_regret": 12.0})
    offline = record("offline", cells=[
        {"dataset_episodes": 5, "epsilon": 1.0, "normalised_value": 0.25, "value": 3.0},
        {"dataset_episodes": 50, "epsilon": 0.1, "normalised_value": 0.9, "value": 7.5}])
    failed = record("online", status="failed")
    failed["submission"]["name"] = "a"
    rows = long_scores(Results(records={("online", "x"): [online], ("offline", "x"): [offline],
                                        ("online", "a"): [failed]}))
    base = dict.fromkeys(LONG_COLUMNS)
    base.update(version="2", task="Garnet-v0-s7-i1", family="Garnet-v0", seed=4, status="ok")
    assert rows == [
        {**base, "submission": "a", "protocol": "online", "status": "failed"},
        {**base, "submission": "x", "protocol": "offline", "dataset_episodes": 5,
         "epsilon": 1.0, "score": 0.25, "value": 3.0},
        {**base, "submission": "x", "protocol": "offline", "dataset_episodes": 50,
         "epsilon": 0.1, "score": 0.9, "value": 7.5},
        {**base, "submission": "x", "protocol": "online", "score": 0.5, "final_score": 0.75,
         "cumulative_regret": 12.0}]


def test_legends_sit_outside_the_axes(monkeypatch, tmp_path):
    from rlbench_icl.leaderboard import draw

    kept = []

    def keep(fig, stem):
        fig.canvas.draw()
        kept.append(fig)
        return []

    monkeypatch.setattr(draw, "save", keep)
    styles = load_styles()
    x = np.linspace(0, 100, 20)
    curves = {n: (x, x / 100, x / 110, x / 90) for n in ("ucbvi", "psrl", "mine")}
    draw.bands(tmp_path / "a", [("p", curves), ("q", curves)], styles, "x", "title")
    draw.small_multiples(tmp_path / "b", {f"task {i}": {n: c[:2] for n, c in curves.items()}
                                          for i in range(7)}, styles, "x", "y", "title")
    draw.ecdf(tmp_path / "c", {n: np.array([10.0, 50.0, np.inf]) for n in curves}, styles,
              "x", "title")
    assert len(kept) == 3
    for fig in kept:
        box = fig.legends[0].get_window_extent()
        assert all(not box.overlaps(ax.get_window_extent()) for ax in fig.axes
                   if ax.get_visible())
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "mine (user)" in labels and "ucbvi" in labels


def test_committed_figures_are_listed_on_the_front_page():
    root = Path(__file__).resolve().parent.parent / "leaderboard"
    page = (root / "README.md").read_text()
    stems = sorted({p.stem for p in (root / "figures").glob("*.png")})
    assert stems and all(f"figures/{s}.png" in page for s in stems)


def test_the_cli_shows_progress_and_writes_the_site(board, tiny_tasks, tmp_path, capsys):
    out = tmp_path / "board"
    stale = [out / "figures" / "online_per_task.png", out / "submissions" / "gone.html"]
    for path in stale:  # left by an earlier figure set, and by a submission since removed
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("old")
    (out / "figures" / "notes.txt").write_text("kept")
    assert main(["leaderboard", "--results", str(board[0]), "--out", str(out), "--html",
                 str(out), "--suite", "tiny", "--seeds", str(SEEDS), "--resamples", "200",
                 "--test", "", "--task-path", str(tiny_tasks)]) == 0
    captured = capsys.readouterr()
    for step in ("results", "bootstrap", "tables", "figures", "site"):
        assert f"{step}:" in captured.err  # a bar per long step, on stderr
    assert f"wrote {out / 'index.html'}" in captured.out
    assert (out / "index.html").exists() and (out / "figures/online_heatmap.png").exists()
    assert not any(path.exists() for path in stale) and (out / "figures/notes.txt").exists()


def test_binned_learning_curves_by_hand():
    from types import SimpleNamespace

    from rlbench_icl.leaderboard.entries import binned_returns

    task = SimpleNamespace(normalise_return=lambda v: v, normalise=lambda v: 2 * v)
    run = {"result": {"episodes": {"returns": [0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
                                   "policy_values": None}}}
    assert binned_returns(run, task, "returns", 3).tolist() == [0.5, 0.5, 1.0]
    assert binned_returns(run, task, "returns", 4).tolist() == pytest.approx(
        [1 / 3, 1.0, 1 / 3, 1.0])  # bins of 1.5 episodes: (0 + 1/2) / 1.5, (1/2 + 1) / 1.5
    assert binned_returns(run, task, "policy_values", 3) is None
    short = {"result": {"episodes": {"returns": [0.0, 1.0], "policy_values": [1.0, 1.0]}}}
    assert binned_returns(short, task, "returns", 4).tolist() == [0.0, 0.0, 1.0, 1.0]
    assert binned_returns(short, task, "policy_values", 2).tolist() == [2.0, 2.0]


def test_the_regret_figure_ends_at_the_runs_stored_regret_on_a_discounted_task():
    """On a discounted task an episode stops after H steps, so regret is against the best
    H-step return (Task.return_bounds), as the stored cumulative_regret; the figure once
    used the infinite-horizon V*, which no agent can reach in H steps."""
    from rlbench_icl.leaderboard.figures import _regret
    from rlbench_icl.mdp import TabularMDP
    from rlbench_icl.protocols.online import online_scores
    from rlbench_icl.tuning import synthetic_task

    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = P[:, 1, 1] = 1.0
    mdp = TabularMDP(P=P, R=np.array([[0.0, 1.0], [0.0, 1.0]]), mu0=np.array([1.0, 0.0]),
                     horizon=3, discount=0.9, objective="discounted")
    task = synthetic_task(mdp, 0)
    assert task.return_bounds[0] == pytest.approx(1 + 0.9 + 0.81)
    assert task.optimal_value > task.return_bounds[0] + 5  # 1 / (1 - 0.9) = 10
    returns = [0.0, 1.0, 2.71, 1.9]
    record = {"result": {"episodes": {"returns": returns}}}
    curve = _regret(record, task, 2)
    assert curve[-1] == pytest.approx(online_scores(task, returns, None)["cumulative_regret"])
    assert curve.tolist() == pytest.approx([2 * 2.71 - 1.0, 4 * 2.71 - 5.61])
