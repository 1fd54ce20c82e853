import gzip
import json
import shutil
from pathlib import Path

import pytest

from rlbench_icl import default_registry, load_registry
from rlbench_icl.cli import main
from rlbench_icl.leaderboard import Entry, build_leaderboard, escape_markdown, load_results
from rlbench_icl.leaderboard.paper import load_paper_reference
from rlbench_icl.leaderboard.tables import gap_note, write_front_table
from rlbench_icl.scoring import BootstrapConfig

ROOT = Path(__file__).resolve().parent.parent
FAST = BootstrapConfig(resamples=200)
SEEDS = 3  # the grid of the ``tiny`` fixture: seeds 0..2 of each task


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_tasks) -> tuple[Path, object]:
    """Results of three submissions on two tiny private tasks (tag ``tiny``)."""
    out = tmp_path_factory.mktemp("lb") / "results"
    for agent in ("random", "ucbvi", "vi-lcb"):
        assert main(["run", "--agent", agent, "--tasks", "tiny", "--seeds", str(SEEDS),
                     "--jobs", "1", "--quiet", "--out", str(out),
                     "--task-path", str(tiny_tasks)]) == 0
    return out, load_registry([tiny_tasks])


@pytest.fixture(scope="module")
def results(tiny) -> Path:
    return tiny[0]


@pytest.fixture(scope="module")
def registry(tiny):
    return tiny[1]


GENERATED_DIRS = ("figures", "submissions", "tasks", "assets")
"""The leaderboard's generated subdirectories (the figures and the site's pages)."""


def files(directory: Path) -> dict[str, bytes]:
    """Every generated file under ``directory``, by relative path: the top-level Markdown,
    CSV and HTML files and everything in ``GENERATED_DIRS`` (not the stored results, nor
    anything else kept beside them)."""
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file() and (
                p.parent == directory and p.suffix in (".md", ".csv", ".html")
                or p.relative_to(directory).parts[0] in GENERATED_DIRS)}


def test_same_results_same_bytes(results, registry, tmp_path):
    for name in ("a", "b"):
        build_leaderboard(results, tmp_path / name, registry, FAST, suite_tag="tiny",
                          seeds=SEEDS)
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert a == b and "README.md" in a and "figures/online_performance_profiles.png" in a
    assert "figures/online_performance_profiles.pdf" in a and "scores.csv" in a
    page = a["README.md"].decode()
    assert "P(> ucbvi)" in page and "| random" in page  # ucbvi: the only baseline here
    assert "vi-lcb" in page.split("## Offline")[1]


def test_packed_results_give_the_same_tables(results, registry, tmp_path):
    assert main(["pack", "--results", str(results), "--out", str(tmp_path / "packed")]) == 0
    build_leaderboard(results, tmp_path / "a", registry, FAST, suite_tag="tiny",
                      seeds=SEEDS, figures=False)
    build_leaderboard(tmp_path / "packed", tmp_path / "b", registry, FAST, suite_tag="tiny",
                      seeds=SEEDS, figures=False)
    for name in ("online_tasks.md", "offline_tasks.csv", "online_aggregates.csv"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_mismatched_and_corrupt_files_are_refused_by_name(results, registry, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    changed = copy / "ucbvi/online/TinyChain-v0/seed-1.json"
    record = json.loads(changed.read_text())
    record["task"]["digest"] = "0" * 64
    changed.write_text(json.dumps(record))
    (copy / "ucbvi/online/TinyBandit-v0/seed-0.json").write_text('{"schema": "rlbench-icl/resu')
    moved = copy / "random/online/TinyBandit-v0/seed-2.json"
    moved.rename(moved.with_name("seed-7.json"))
    summary = build_leaderboard(copy, tmp_path / "out", registry, FAST, suite_tag="tiny",
                                seeds=SEEDS, figures=False)
    refused = dict(summary["refused"])
    assert "does not match the registry" in refused["ucbvi/online/TinyChain-v0/seed-1.json"]
    assert "unreadable" in refused["ucbvi/online/TinyBandit-v0/seed-0.json"]
    assert "belongs at" in refused["random/online/TinyBandit-v0/seed-7.json"]
    page = (tmp_path / "out" / "README.md").read_text()
    assert "ucbvi (incomplete)" in page and "random (incomplete)" in page
    assert "Refused result files" in page and "seed-1.json" in page
    assert summary["online"] == []  # a refused file makes its submission incomplete


def test_data_that_disagree_with_their_own_settings_or_are_not_finite_are_refused(
        results, registry, tmp_path):
    """A review found cut returns and a cherry-picked offline cell scored as whole runs, and
    one NaN stopping the whole leaderboard. Each is refused by name; the rest is built."""
    copy = tmp_path / "results"
    shutil.copytree(results, copy)

    def edit(rel: str, change) -> None:
        path = copy / rel
        record = json.loads(path.read_text())
        change(record["result"])
        path.write_text(json.dumps(record))

    def cut(result):
        result["episodes"]["returns"] = result["episodes"]["returns"][-2:]
        if result["episodes"]["policy_values"]:
            result["episodes"]["policy_values"] = result["episodes"]["policy_values"][-2:]

    def best_cell_only(result):
        result["cells"] = [max(result["cells"], key=lambda c: c["value"])]

    def a_cell_twice(result):
        result["cells"] = result["cells"][:-1] + [result["cells"][0]]

    def nan_return(result):
        result["episodes"]["returns"][1] = float("nan")

    def infinite_value(result):
        result["cells"][0]["value"] = float("inf")

    edit("ucbvi/online/TinyChain-v0/seed-0.json", cut)
    edit("vi-lcb/offline/TinyChain-v0/seed-0.json", best_cell_only)
    edit("vi-lcb/offline/TinyChain-v0/seed-1.json", a_cell_twice)
    edit("random/online/TinyBandit-v0/seed-1.json", nan_return)
    edit("random/offline/TinyBandit-v0/seed-1.json", infinite_value)
    summary = build_leaderboard(copy, tmp_path / "out", registry, FAST, suite_tag="tiny",
                                seeds=SEEDS, figures=True)
    refused = dict(summary["refused"])
    assert "2 returns, but settings.num_episodes is" in refused[
        "ucbvi/online/TinyChain-v0/seed-0.json"]
    for rel in ("vi-lcb/offline/TinyChain-v0/seed-0.json",
                "vi-lcb/offline/TinyChain-v0/seed-1.json"):
        assert "not the settings' grid" in refused[rel]
    assert "finite" in refused["random/online/TinyBandit-v0/seed-1.json"]
    assert "finite" in refused["random/offline/TinyBandit-v0/seed-1.json"]
    assert len(refused) == 5 and (tmp_path / "out" / "README.md").exists()
    assert summary["online"] == [] and summary["offline"] == []  # each now incomplete


def test_gzip_corruption_is_refused(results, registry, tmp_path):
    copy = tmp_path / "packed"
    main(["pack", "--results", str(results), "--out", str(copy)])
    target = copy / "random/offline/TinyChain-v0/seed-0.json.gz"
    target.write_bytes(gzip.compress(b"[1, 2")[:-3])
    summary = build_leaderboard(copy, tmp_path / "out", registry, FAST, suite_tag="tiny",
                                seeds=SEEDS, figures=False)
    assert any("seed-0.json.gz" in path for path, _ in summary["refused"])


def test_other_settings_duplicates_and_mixed_versions_are_refused(results, registry, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    path = copy / "random/online/TinyChain-v0/seed-0.json"
    record = json.loads(path.read_text())
    record["settings"] = {"num_episodes": 3}  # as a run with --episodes 3 stores it
    episodes = record["result"]["episodes"]
    for key in ("returns", "policy_values"):
        episodes[key] = episodes[key] and episodes[key][:3]
    path.write_text(json.dumps(record))
    main(["pack", "--results", str(results / "ucbvi"), "--out", str(copy / "ucbvi")])
    path = copy / "vi-lcb/offline/TinyBandit-v0/seed-2.json"
    record = json.loads(path.read_text())
    record["submission"]["version"] = "99"
    path.write_text(json.dumps(record))
    refused = dict(build_leaderboard(copy, tmp_path / "out", registry, FAST,
                                     suite_tag="tiny", seeds=SEEDS, figures=False)["refused"])
    assert "are not the task's" in refused["random/online/TinyChain-v0/seed-0.json"]
    assert "also stored in" in refused["ucbvi/online/TinyChain-v0/seed-0.json.gz"]
    assert "mixed with version 1" in refused["vi-lcb/offline/TinyBandit-v0/seed-2.json"]


def test_a_stray_old_version_file_is_refused_even_when_it_sorts_first(results, registry,
                                                                       tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    files = sorted((copy / "random" / "offline").rglob("seed-*.json"))
    record = json.loads(files[0].read_text())
    version = record["submission"]["version"]
    record["submission"]["version"] = "0"
    files[0].write_text(json.dumps(record))
    loaded = load_results(copy, registry)
    refused = dict(loaded.refused)
    assert list(refused) == [str(files[0].relative_to(copy))]
    kept = f"mixed with version {version}, which {len(files) - 1} of its offline runs hold"
    assert kept in refused[str(files[0].relative_to(copy))]
    assert len(loaded.records[("offline", "random")]) == len(files) - 1
    # two runs of another version, each stored twice (.json and .json.gz): as many files as
    # the others' four runs, but two runs; a run stored twice counts once
    assert len(files) == 6
    for path in files[:2]:
        record = json.loads(path.read_text())
        record["submission"]["version"] = "9"  # would win a tie: it sorts after the other
        path.write_text(json.dumps(record))
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
    loaded = load_results(copy, registry)
    assert len(loaded.refused) == 4 and len(loaded.records[("offline", "random")]) == 4
    assert all(f"mixed with version {version}, which 4 of its offline runs hold" in reason
               for _, reason in loaded.refused)


def test_runs_of_several_code_hashes_are_flagged(results, registry, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    clean = build_leaderboard(copy, tmp_path / "clean", registry, FAST, suite_tag="tiny",
                              seeds=SEEDS, figures=False)
    path = copy / "ucbvi/online/TinyChain-v0/seed-0.json"
    record = json.loads(path.read_text())
    record["code"]["sha256"] = "f" * 64
    path.write_text(json.dumps(record))
    mixed = build_leaderboard(copy, tmp_path / "mixed", registry, FAST, suite_tag="tiny",
                              seeds=SEEDS, figures=False)
    assert mixed["online"] == clean["online"]  # flagged, not refused
    flag = "runs of 2 different code hashes"
    assert flag not in (tmp_path / "clean" / "README.md").read_text()
    online = (tmp_path / "mixed" / "README.md").read_text().split("\n## Online")[1]
    line = next(x for x in online.splitlines() if "| ucbvi" in x)
    assert flag in line


def fail(path: Path, seed: int | None = None) -> None:
    """Turn a stored run into a failed one (at ``seed``, if given, in its file)."""
    record = json.loads(path.read_text())
    record.update(status="failed", result=None, error={"message": "boom", "traceback": ""})
    if seed is not None:
        record["seed"] = seed
        path = path.with_name(f"seed-{seed}.json")
    path.write_text(json.dumps(record))


def incomplete_notes(page: str) -> dict[str, str]:
    """{submission: the note in its IQM cell} of the incomplete rows of a page."""
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in page.splitlines()
            if "(incomplete) |" in line]
    return {row[1].removesuffix(" (incomplete)"): row[2] for row in rows}


def test_a_gap_in_the_declared_grid_is_never_ranked(results, tiny_tasks, tmp_path, capsys):
    """Issue 19: ucbvi, missing seeds 1-2 of one task, was ranked on seed 0 alone (a
    zero-width interval). Seeds past the grid are ignored, even failed ones."""
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    for seed in (1, 2):
        (copy / f"ucbvi/online/TinyChain-v0/seed-{seed}.json").unlink()
    fail(copy / "vi-lcb/offline/TinyBandit-v0/seed-0.json")
    fail(copy / "random/online/TinyChain-v0/seed-2.json", seed=SEEDS)  # outside the grid
    (copy / "random/online/TinyBandit-v0/seed-5.json").write_text("{")  # refused, outside
    assert main(["leaderboard", "--results", str(copy), "--out", str(tmp_path / "out"),
                 "--suite", "tiny", "--seeds", str(SEEDS), "--resamples", "200",
                 "--task-path", str(tiny_tasks)]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["online: random", "offline: random"]
    page = (tmp_path / "out" / "README.md").read_text()
    assert incomplete_notes(page) == {"ucbvi": "missing 2 of 6 runs: TinyChain-v0 seeds 1-2",
                                      "vi-lcb": "1 failed: TinyBandit-v0 seed 0"}


def test_only_sealed_runs_are_ranked(results, tiny_tasks, tmp_path, capsys):
    """Issue 24: a grid with one run made in-process (``--in-process``, or a record from
    before sealed runs) is listed as in-process, never ranked."""
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    path = copy / "ucbvi/online/TinyChain-v0/seed-1.json"
    record = json.loads(path.read_text())
    assert record["isolation"] == "sealed"
    path.write_text(json.dumps({**record, "isolation": "in-process"}))
    assert main(["leaderboard", "--results", str(copy), "--out", str(tmp_path / "out"),
                 "--suite", "tiny", "--seeds", str(SEEDS), "--resamples", "200",
                 "--task-path", str(tiny_tasks)]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["online: random",
                                                        "offline: vi-lcb, random"]
    page = (tmp_path / "out" / "README.md").read_text()
    row = next(line for line in page.splitlines() if "ucbvi (in-process) |" in line)
    assert "1 in-process run" in row


def test_an_incomplete_row_is_compact_and_a_long_note_goes_below(tmp_path):
    tasks = ["Alpha-v0", "Beta-v0", "Gamma-v0"]
    short = Entry("x", {}, [], tasks, list(range(10)), harness_versions=["1"], refused=0,
                  missing=[("Alpha-v0", s) for s in (0, 2, 3, 4, 7)], failed=[("Beta-v0", 9)])
    long = Entry("y", {}, [], tasks, list(range(10)), harness_versions=["1"], refused=2,
                 missing=[(t, s) for t in tasks for s in range(0, 10, 2)], failed=[])
    assert gap_note(long, brief=True) == ("missing 15 of 30 runs, 2 refused files: in full "
                                          "below the table")
    section = write_front_table(tmp_path, "online", [short, long], [], None, {},
                                {"x": "no", "y": "no"})
    assert incomplete_notes(section) == {
        "x": "missing 5 of 30 runs: Alpha-v0 seeds 0,2-4,7; 1 failed: Beta-v0 seed 9",
        "y": gap_note(long, brief=True)}
    assert section.endswith("|\n\nNot ranked, in full:\n\n- y: missing 15 of 30 runs: "
                            "Alpha-v0 seeds 0,2,4,6,8, Beta-v0 seeds 0,2,4,6,8, Gamma-v0 "
                            "seeds 0,2,4,6,8; 2 refused files\n")


def test_no_paper_section_without_a_paper_task(results, registry, tmp_path):
    """Issue 19: the paper-reproduction table belongs to suites with a paper task."""
    build_leaderboard(results, tmp_path, registry, FAST, suite_tag="tiny", seeds=SEEDS,
                      figures=False)
    page = (tmp_path / "README.md").read_text()
    assert "Paper reproduction" not in page and "paper_reproduction" not in page
    assert not (tmp_path / "paper_reproduction.csv").exists()


def test_missing_results_directory_is_an_error(registry, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        build_leaderboard(tmp_path / "nope", tmp_path / "out", registry, FAST)


def test_metadata_is_escaped():
    text = escape_markdown("<script>x</script> | [a](http://e) *b*")
    assert "<" not in text.replace("\\<", "") and "|" not in text.replace("\\|", "")
    assert "\\[a\\]\\(http://e\\)" in text


def test_committed_leaderboard_regenerates_exactly(tmp_path):
    """leaderboard/ (tables, scores.csv, figures and the site) is a pure function of
    leaderboard/results: rebuild it and compare every file byte for byte."""
    committed = ROOT / "leaderboard"
    build_leaderboard(committed / "results", tmp_path, default_registry(), test_suite="test",
                      html_dir=tmp_path)
    want, got = files(committed), files(tmp_path)
    assert {"README.md", "online_tasks.csv", "scores.csv", "index.html",
            "figures/online_heatmap.svg", "submissions/ucbvi.html"} <= set(want)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], name


def test_the_paper_reference_covers_the_paper_tasks():
    """The paper table's columns, in the paper's order from the reference file, are exactly
    the registry's tasks tagged ``paper``, and every reference row gives a number for each."""
    reference = load_paper_reference()
    assert sorted(reference.tasks) == sorted(default_registry().select("paper"))
    assert reference.rows and all(len(values) == len(reference.tasks)
                                  for _, values in reference.rows)


def test_committed_results_store_the_scores_of_the_current_harness():
    """Stored derived scores equal those recomputed from the per-episode data (a change to
    the scoring must come with re-run results, or ``verify`` would fail on them)."""
    import math

    from rlbench_icl.leaderboard import rescore
    from rlbench_icl.store import read_result

    registry, tasks, stale = default_registry(), {}, []
    for path in sorted((ROOT / "leaderboard" / "results").rglob("seed-*.json.gz")):
        record = read_result(path)
        stored = json.loads(json.dumps(record["result"]["scores"]))
        task_id = record["task"]["id"]
        tasks.setdefault(task_id, registry.make(task_id))
        rescore(record, tasks[task_id])
        for key, value in record["result"]["scores"].items():
            same = (math.isclose(value, stored[key], rel_tol=1e-9, abs_tol=1e-9)
                    if isinstance(value, float) else value == stored[key])
            if not same:
                stale.append(f"{path.relative_to(ROOT)}: {key}")
    assert not stale, stale[:5]


def test_csv_cells_that_look_like_formulas_are_neutralised():
    from rlbench_icl.leaderboard.render import csv_text

    text = csv_text([["=HYPERLINK(\"http://x\")", "-0.25", "+1", "@SUM(A1)", "-cmd", "0.5"]],
                    ["a", "b", "c", "d", "e", "f"])
    row = text.splitlines()[1]
    assert row == "\"'=HYPERLINK(\"\"http://x\"\")\",-0.25,+1,'@SUM(A1),'-cmd,0.5"


def test_leaderboard_json_gives_the_rankings_with_their_intervals(results, tiny_tasks, tmp_path,
                                                                  capsys):
    assert main(["leaderboard", "--results", str(results), "--out", str(tmp_path / "out"),
                 "--suite", "tiny", "--seeds", str(SEEDS), "--test", "", "--resamples", "200",
                 "--task-path", str(tiny_tasks), "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert captured.err == ""  # no progress bars around the JSON
    online = next(s for s in data["standings"] if s["protocol"] == "online")
    assert [r["rank"] for r in online["ranked"]] == [1, 2]
    best = online["ranked"][0]
    assert best["submission"] == "ucbvi" and best["IQM"][1] <= best["IQM"][0] <= best["IQM"][2]
    csv_row = (tmp_path / "out" / "online_leaderboard.csv").read_text().splitlines()[1]
    assert csv_row.split(",")[3] == f"{best['IQM'][0]:.6f}"
    assert data["refused"] == [] and online["baseline"] == "ucbvi"


def test_the_ablation_table_shows_the_declared_submissions_where_they_are_ranked(
        results, registry, tmp_path):
    summary = build_leaderboard(results, tmp_path / "out", registry, FAST, suite_tag="tiny",
                                seeds=SEEDS, figures=False)
    page = (tmp_path / "out" / "README.md").read_text()
    section = page.split("## Ablation")[1].split("\n## ")[0]
    rows = {line.split("|")[2].strip(): line for line in section.splitlines()
            if line.startswith("| ") and "role" not in line}
    assert set(rows) == {"ucbvi", "vi-lcb"}  # declared and ranked; random is not declared
    assert rows["ucbvi"].count("—") == 1 and rows["vi-lcb"].count("—") == 1
    csv_rows = (tmp_path / "out" / "ablation.csv").read_text().splitlines()
    assert csv_rows[0].startswith("role,submission,IQM dev online,IQM dev online low")
    ucbvi = next(r for r in csv_rows if ",ucbvi," in r).split(",")
    online = csv_iqm(tmp_path / "out" / "online_leaderboard.csv", "ucbvi")
    assert ucbvi[2] == online and summary["online"][0] == "ucbvi"


def csv_iqm(path: Path, name: str) -> str:
    import csv

    rows = list(csv.DictReader(path.read_text().splitlines()))
    return next(r for r in rows if r["submission"] == name)["IQM"]


def test_numbers_that_round_to_zero_print_without_a_minus_sign():
    from rlbench_icl.leaderboard.render import csv_number, fmt, fmt_ci

    assert fmt(-1e-17) == "0.000" and csv_number(-1e-17) == "0.000000"
    assert fmt_ci(-1e-17, -0.0004, 0.0) == "0.000 [0.000, 0.000]"
    assert fmt(-0.0006) == "-0.001" and fmt(0.12345, 4) == "0.1235" == f"{0.12345:.4f}"
