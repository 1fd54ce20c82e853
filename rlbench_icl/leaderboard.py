"""The leaderboard: regenerated from stored result files, deterministically.

``build_leaderboard(results_dir, out_dir, registry)`` reads every result file, refuses (with
the file's name) those that are unreadable, of another schema, or whose task digest does not
match the registry, and writes Markdown and CSV tables and PNG figures. Same results, same
bytes: every bootstrap stream is keyed by (protocol, submission), tables are sorted, figures
carry no timestamps.

A submission is ranked on a protocol only if none of its runs failed or was refused and some
seeds have a run on every task of the suite (ranking uses those seeds); otherwise it is listed
as incomplete.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tabulate import tabulate

from . import scoring, store
from .protocols import SCORE_KEY, online_scores, protocol_settings
from .protocols.online import episodes_to_threshold
from .registry import Registry
from .stamps import verification_status
from .tasks import Task

SUITE_TAG = "full"
PAPER_TAG = "paper"
NOT_BASELINES = ("random", "gnn-fm")
PAPER_REFERENCE = [  # ../shared/PAPER_NOTES.md: an independent re-run, 12 seeds, median
    ("UCB-VI, paper settings (independent re-run)", [16, 53, 46]),
    ("Q-learning, paper settings (independent re-run)", [469, 1205, 1014]),
]
PAPER_TASKS = ["PaperGrid3x3-v0", "PaperGrid5x5-v0", "PaperFrozenLake4x4-v0"]
CURVE_POINTS = 50


@dataclass
class Results:
    """Accepted records by (protocol, submission), and the refused files with reasons."""

    records: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=dict)


@dataclass
class Entry:
    """One submission on one protocol."""

    name: str
    metadata: dict
    records: list[dict]
    tasks: list[str]
    seeds: list[int]
    complete: bool
    failed: int
    missing: int
    harness_versions: list[str]
    num_records: int = 0


def load_results(results_dir: Path, registry: Registry) -> Results:
    """Every acceptable record under ``results_dir`` (see the module docstring).

    Derived scores are recomputed here from the per-episode record and the registry's exact
    values, so a stored scalar never decides a rank.
    """
    if not Path(results_dir).is_dir():
        raise store.ResultFileError(f"results directory {results_dir} does not exist")
    results = Results()
    paths = list(Path(results_dir).rglob("seed-*.json")) + list(
        Path(results_dir).rglob("seed-*.json.gz"))
    seen: dict[tuple, str] = {}
    versions: dict[tuple, str] = {}
    for path in sorted(paths):
        try:
            record = store.read_result(path)
            task = _check_record(path, Path(results_dir), record, registry)
            _check_unique(path, record, seen, versions)
        except store.ResultFileError as exc:
            results.refused.append((str(path.relative_to(results_dir)), str(exc)))
            continue
        _rescore(record, task)
        key = (record["protocol"], record["submission"]["name"])
        results.records.setdefault(key, []).append(record)
        results.tasks[task.id] = task
    return results


def _check_record(path: Path, root: Path, record: dict, registry: Registry) -> Task:
    task_id = record["task"]["id"]
    if task_id not in registry.ids:
        raise store.ResultFileError(f"{path}: task {task_id!r} is not in the registry")
    task = registry.make(task_id)
    if record["task"]["digest"] != task.digest:
        raise store.ResultFileError(f"{path}: task digest {record['task']['digest'][:12]} "
                                    f"does not match the registry's {task.digest[:12]} for "
                                    f"{task_id} (the task changed: re-run it)")
    store.check_location(root, path, record)
    wanted = protocol_settings(task, record["protocol"]).to_dict()
    if record["settings"] != wanted:
        raise store.ResultFileError(f"{path}: settings {record['settings']} are not the "
                                    f"task's {wanted} (a run with --episodes?)")
    return task


def _check_unique(path: Path, record: dict, seen: dict, versions: dict) -> None:
    sub = record["submission"]
    key = (sub["name"], record["protocol"], record["task"]["id"], record["seed"])
    if key in seen:
        raise store.ResultFileError(f"{path}: the same run is also stored in {seen[key]}")
    seen[key] = str(path)
    first = versions.setdefault((sub["name"], record["protocol"]), sub["version"])
    if sub["version"] != first:
        raise store.ResultFileError(f"{path}: {sub['name']} version {sub['version']} mixed "
                                    f"with version {first} (keep one version per directory)")


def _rescore(record: dict, task: Task) -> None:
    """Derived scores from the per-episode record and the registry's exact values."""
    record["task"].update(optimal_value=task.optimal_value, random_value=task.random_value)
    if record["status"] != "ok":
        return
    result = record["result"]
    if record["protocol"] == "online":
        episodes = result["episodes"]
        result["scores"] = online_scores(task, episodes["returns"], episodes["policy_values"])
    else:
        for cell in result["cells"]:
            cell["normalised_value"] = float(task.normalise(cell["value"]))
        result["scores"] = {"offline_score": float(np.mean(
            [c["normalised_value"] for c in result["cells"]]))}


def make_entries(results: Results, protocol: str, suite: list[str]) -> list[Entry]:
    """Entries of a protocol. Ranking uses the seeds every suite task has a run for (a task
    may have more, e.g. the paper's 12 seeds); any failed run makes the entry incomplete."""
    entries = []
    for (proto, name), records in sorted(results.records.items()):
        records = [r for r in records if r["task"]["id"] in suite]
        if proto != protocol or not records:
            continue
        by_task = {t: {r["seed"] for r in records if r["task"]["id"] == t} for t in suite}
        common = set.intersection(*by_task.values())
        every = set.union(*by_task.values())
        failed = sum(r["status"] != "ok" for r in records) + _refused_count(results, name,
                                                                             protocol)
        missing = sum(len(every - seeds) for seeds in by_task.values())
        used = [r for r in records if r["seed"] in common]
        entries.append(Entry(name, records[0]["submission"], used, suite, sorted(common),
                             complete=bool(common) and failed == 0, failed=failed,
                             missing=missing,
                             harness_versions=sorted({r["harness_version"] for r in records}),
                             num_records=len(records)))
    return entries


def _refused_count(results: Results, name: str, protocol: str) -> int:
    """Refused files filed under this submission and protocol (by their path)."""
    return sum(Path(path).parts[:2] == (name, protocol) for path, _ in results.refused)


def score_matrix(entry: Entry, protocol: str) -> np.ndarray:
    """(runs, tasks) normalised scores of a complete entry."""
    by_key = {(r["task"]["id"], r["seed"]): r for r in entry.records}
    return np.array([[by_key[(t, s)]["result"]["scores"][SCORE_KEY[protocol]]
                      for t in entry.tasks] for s in entry.seeds])


def offline_matrix(entry: Entry, size: int) -> np.ndarray:
    """(runs, task x epsilon) normalised values at one dataset size."""
    by_key = {(r["task"]["id"], r["seed"]): r for r in entry.records}
    return size_matrix([[by_key[(t, s)]["result"]["cells"] for t in entry.tasks]
                        for s in entry.seeds], size)


def size_matrix(cells: list[list[list[dict]]], size: int) -> np.ndarray:
    """(seeds, task x epsilon) normalised values at one dataset size, from the offline cells
    of each seed's run of each task (``cells[seed][task]``)."""
    return np.array([[c["normalised_value"] for task_cells in seed_cells for c in task_cells
                      if c["dataset_episodes"] == size] for seed_cells in cells])


def stream_id(*parts: str) -> int:
    """A bootstrap stream per (protocol, submission, ...): stable, independent of others."""
    return int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:12], 16)


def markdown_table(rows: list[list], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def csv_text(rows: list[list], headers: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def escape_markdown(text: str) -> str:
    """Submission metadata is untrusted: no HTML, no table breaks, no links injected."""
    out = str(text)
    for char in "\\`*_{}[]()#+!|<>":
        out = out.replace(char, "\\" + char)
    return " ".join(out.split())


def fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


def fmt_ci(point: float, lo: float, hi: float, digits: int = 3) -> str:
    return f"{point:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


@dataclass
class Ranked:
    """A complete entry with its score matrix and aggregates."""

    entry: Entry
    matrix: np.ndarray
    aggregates: dict[str, tuple[float, float, float]]


def build_leaderboard(results_dir: Path, out_dir: Path, registry: Registry,
                      bootstrap: scoring.BootstrapConfig | None = None,
                      baselines: set[str] | None = None, suite_tag: str = SUITE_TAG) -> dict:
    """Regenerate every table and figure under ``out_dir``; returns a small summary."""
    from . import figures

    bootstrap = bootstrap or scoring.BootstrapConfig()
    results = load_results(Path(results_dir), registry)
    suite = registry.select(suite_tag)
    out = Path(out_dir)
    sections, summary = [], {"refused": results.refused}
    for protocol in ("online", "offline"):
        entries = make_entries(results, protocol, suite)
        if not entries:
            continue
        ranked = _rank(entries, protocol, bootstrap)
        base = _best_baseline(ranked, baselines)
        verified = {e.name: verification_status(results_dir, e.name, protocol)
                    for e in entries}
        sections.append(_front_table(out, protocol, entries, ranked, base, bootstrap,
                                     verified))
        _write_task_tables(out, protocol, ranked, suite, bootstrap)
        if protocol == "online":
            _write_threshold_table(out, ranked, suite, results.tasks)
        _write_figures(out, protocol, ranked, bootstrap, figures, results.tasks)
        if protocol == "offline" and ranked:
            sections.append(_offline_sizes(out, ranked, bootstrap, figures))
        summary[protocol] = [r.entry.name for r in ranked]
    sections.append(_paper_table(out, results))
    text = _front_page(sections, results, bootstrap, suite, suite_tag)
    store.write_atomic(out / "README.md", text)
    return summary


def _rank(entries: list[Entry], protocol: str, bootstrap) -> list[Ranked]:
    ranked = []
    for e in entries:
        if e.complete:
            matrix = score_matrix(e, protocol)
            ranked.append(Ranked(e, matrix, scoring.aggregate_with_ci(
                matrix, bootstrap, stream_id(protocol, e.name))))
    return sorted(ranked, key=lambda r: (-r.aggregates["IQM"][0], r.entry.name))


def _best_baseline(ranked: list[Ranked], baselines: set[str] | None) -> Ranked | None:
    for r in ranked:
        if (r.entry.name in baselines) if baselines is not None else (
                r.entry.name not in NOT_BASELINES):
            return r
    return None


def _front_table(out: Path, protocol, entries, ranked, base, bootstrap, verified) -> str:
    headers = ["rank", "submission", "IQM [95% CI]", "median", "mean", "optimality gap",
               f"P(> {base.entry.name if base else 'baseline'}) [95% CI]", "runs", "failed",
               "harness", "verified"]
    rows = []
    for rank, r in enumerate(ranked, start=1):
        a = r.aggregates
        poi = "—"
        if base is not None and r is not base:
            poi = fmt_ci(*scoring.probability_of_improvement_with_ci(
                r.matrix, base.matrix, bootstrap, stream_id(protocol, r.entry.name, "poi")))
        rows.append([str(rank), escape_markdown(r.entry.name), fmt_ci(*a["IQM"]),
                     fmt(a["median"][0]), fmt(a["mean"][0]), fmt(a["optimality gap"][0]),
                     poi, str(r.matrix.size), "0",
                     escape_markdown(", ".join(r.entry.harness_versions)),
                     verified[r.entry.name]])
    for e in entries:
        if not e.complete:
            rows.append(["—", escape_markdown(e.name) + " (incomplete)", "—", "—", "—", "—",
                         "—", str(e.num_records), f"{e.failed} (+{e.missing} missing)",
                         escape_markdown(", ".join(e.harness_versions)), verified[e.name]])
    store.write_atomic(out / f"{protocol}_leaderboard.csv",
                       csv_text([[c.replace("\\", "") for c in row] for row in rows], headers))
    title = {"online": "Online: mean normalised return over the episode budget",
             "offline": "Offline: exact normalised value of the returned policy "
                        "(mean over behaviours and dataset sizes)"}[protocol]
    return f"## {title}\n\n{markdown_table(rows, headers)}\n"


def _write_task_tables(out: Path, protocol, ranked, suite, bootstrap) -> None:
    headers = ["task"] + [r.entry.name for r in ranked]
    md_rows, csv_rows = [], []
    for j, task in enumerate(suite):
        md_row, csv_row = [task], [task]
        for r in ranked:
            column = r.matrix[:, j]
            boot = scoring.stratified_resamples(column[:, None], bootstrap,
                                                stream_id(protocol, r.entry.name, task))
            lo, hi = scoring.interval(boot.mean(axis=(1, 2)), bootstrap.confidence)
            md_row.append(f"{column.mean():.3f} [{lo:.3f}, {hi:.3f}]")
            csv_row += [f"{column.mean():.6f}", f"{lo:.6f}", f"{hi:.6f}"]
        md_rows.append(md_row)
        csv_rows.append(csv_row)
    csv_headers = ["task"] + [f"{r.entry.name}:{k}" for r in ranked for k in ("mean", "low",
                                                                              "high")]
    intro = (f"# Per-task {protocol} scores\n\nMean normalised score over seeds "
             f"[95% bootstrap CI over seeds].\n\n")
    store.write_atomic(out / f"{protocol}_tasks.md", intro + markdown_table(md_rows, headers)
                       + "\n")
    store.write_atomic(out / f"{protocol}_tasks.csv", csv_text(csv_rows, csv_headers))
    rows = [[r.entry.name] + [f"{v:.6f}" for a in r.aggregates.values() for v in a]
            for r in ranked]
    agg_headers = ["submission"] + [f"{m}:{k}" for m in scoring.AGGREGATES
                                    for k in ("point", "low", "high")]
    store.write_atomic(out / f"{protocol}_aggregates.csv", csv_text(rows, agg_headers))


def _write_threshold_table(out: Path, ranked, suite, tasks) -> None:
    """Median episodes-to-threshold (a 10-episode moving average of normalised returns
    reaching 0.9) per task, from the stored returns."""
    headers = ["task"] + [r.entry.name for r in ranked]
    rows = []
    for task_id in suite:
        row = [task_id]
        for r in ranked:
            runs = [x for x in r.entry.records if x["task"]["id"] == task_id
                    and x["seed"] in r.entry.seeds]
            budget = runs[0]["settings"]["num_episodes"]
            values = [episodes_to_threshold(tasks[task_id].normalise_return(
                np.asarray(x["result"]["episodes"]["returns"]))) or budget + 1 for x in runs]
            row.append(_median_episodes(values, budget))
        rows.append(row)
    intro = ("# Episodes to threshold (online)\n\nThe first episode k from which the "
             "10-episode moving average of normalised returns reaches 0.9 (episodes k..k+9 "
             "average >= 0.9), median over seeds; runs that never reach it count as budget + 1 "
             "(shown \"> K\").\n\n")
    store.write_atomic(out / "online_threshold.md", intro + markdown_table(rows, headers)
                       + "\n")
    store.write_atomic(out / "online_threshold.csv", csv_text(rows, headers))


def _median_episodes(values: list[int], budget: int) -> str:
    value = float(np.median(values))
    return f"> {budget}" if value > budget else f"{value:g}"


def _write_figures(out: Path, protocol, ranked, bootstrap, figures, tasks) -> None:
    if not ranked:
        return
    thresholds = np.linspace(0.0, 1.0, 41)
    profiles = {r.entry.name: (thresholds, *scoring.performance_profile(
        r.matrix, thresholds, bootstrap, stream_id(protocol, r.entry.name, "profile")))
        for r in ranked}
    figures.plot_bands(out / f"{protocol}_performance_profiles.png", profiles,
                       "normalised score threshold τ", "fraction of runs with score > τ",
                       f"Performance profiles ({protocol}, 95% CIs)")
    names = [r.entry.name for r in ranked]
    matrix = np.array([[scoring.probability_of_improvement(x.matrix, y.matrix) if x is not y
                        else np.nan for y in ranked] for x in ranked], dtype=float)
    figures.plot_matrix(out / f"{protocol}_probability_of_improvement.png", names, matrix,
                        f"P(row > column), {protocol}")
    figures.plot_per_task(out / f"{protocol}_per_task.png", ranked[0].entry.tasks,
                          {r.entry.name: r.matrix.mean(axis=0) for r in ranked},
                          f"Per-task mean normalised score ({protocol})")
    if protocol == "online":
        _write_curves(out, ranked, bootstrap, figures, tasks)


def _write_curves(out: Path, ranked, bootstrap, figures, tasks) -> None:
    x = np.linspace(0.0, 1.0, CURVE_POINTS, endpoint=False)
    for key, label, filename in [
            ("returns", "IQM normalised return", "online_sample_efficiency.png"),
            ("policy_values", "IQM normalised value of the exploitation policy",
             "online_policy_curves.png")]:
        curves = {}
        for r in ranked:
            arrays = _curve_array(r.entry, key, x, tasks)
            if arrays is not None:
                curves[r.entry.name] = (100 * x, *scoring.iqm_curve(
                    arrays, bootstrap, stream_id("online", r.entry.name, key)))
        if curves:
            figures.plot_bands(out / filename, curves, "% of the episode budget", label,
                               f"{label} (95% CIs)")


def _curve_array(entry: Entry, key: str, fractions: np.ndarray, tasks: dict
                 ) -> np.ndarray | None:
    """(runs, tasks, points) normalised values at fractions of each task's budget."""
    by_key = {(r["task"]["id"], r["seed"]): r for r in entry.records}
    out = np.empty((len(entry.seeds), len(entry.tasks), len(fractions)))
    for i, s in enumerate(entry.seeds):
        for j, t in enumerate(entry.tasks):
            record = by_key[(t, s)]
            values = record["result"]["episodes"][key]
            if values is None:
                return None
            task = tasks[t]
            normalised = (task.normalise_return(values) if key == "returns"
                          else task.normalise(values))
            out[i, j] = normalised[(fractions * len(values)).astype(int)]
    return out


def _offline_sizes(out: Path, ranked, bootstrap, figures) -> str:
    sizes = sorted(set.intersection(*[{c["dataset_episodes"] for c in rec["result"]["cells"]}
                                      for r in ranked for rec in r.entry.records]))
    headers = ["submission"] + [f"{n} episodes" for n in sizes]
    rows, bands = [], {}
    for r in ranked:
        values = [scoring.aggregate_with_ci(offline_matrix(r.entry, n), bootstrap,
                                            stream_id("offline", r.entry.name, str(n)))["IQM"]
                  for n in sizes]
        # four digits: at large datasets IQMs differ in the fourth (0.9995 against 0.9993)
        rows.append([escape_markdown(r.entry.name)] + [fmt_ci(*v, digits=4) for v in values])
        bands[r.entry.name] = (np.array(sizes), *np.array(values).T)
    figures.plot_bands(out / "offline_by_dataset_size.png", bands, "dataset size (episodes)",
                       "IQM normalised value", "Offline IQM by dataset size (95% CIs)",
                       xscale="log")
    store.write_atomic(out / "offline_by_dataset_size.csv", csv_text(rows, headers))
    return ("### Offline IQM by dataset size (over tasks x behaviours)\n\n"
            + markdown_table(rows, headers) + "\n")


def _paper_table(out: Path, results: Results) -> str:
    headers = ["submission"] + PAPER_TASKS
    rows = []
    for (protocol, name), records in sorted(results.records.items()):
        if protocol != "online":
            continue
        cells = []
        for task in PAPER_TASKS:
            runs = [r for r in records if r["task"]["id"] == task and r["status"] == "ok"]
            cells.append(_median_solve(runs))
        if any(c != "—" for c in cells):
            rows.append([escape_markdown(name)] + cells)
    rows += [[label] + [str(v) for v in values] for label, values in PAPER_REFERENCE]
    store.write_atomic(out / "paper_reproduction.csv", csv_text(rows, headers))
    return ("## Paper reproduction: median episodes-to-solve\n\n"
            "The paper's three tasks under its protocol (Zighem & Vie 2026; 50-step episodes, "
            "gamma 0.95): the first episode of 8 consecutive ones whose exploitation policy "
            "scores >= 0.95, median over seeds (n = seeds), unsolved runs counted at the "
            "budget (1500). The last rows are reference figures from an independent re-run "
            "of the paper's baselines (12 seeds), not produced by this harness.\n\n"
            + markdown_table(rows, headers) + "\n")


def _median_solve(runs: list[dict]) -> str:
    if not runs:
        return "—"
    budget = runs[0]["settings"]["num_episodes"]
    values = [r["result"]["scores"]["episodes_to_solve"] or budget + 1 for r in runs]
    return f"{_median_episodes(values, budget)} (n={len(runs)})"


def _front_page(sections: list[str], results: Results, bootstrap, suite, suite_tag) -> str:
    count = sum(len(v) for v in results.records.values())
    lines = [
        "# rlbench-icl leaderboard", "",
        f"Generated by `rlbench-icl leaderboard` from {count} result files on the "
        f"`{suite_tag}` suite ({len(suite)} tasks). Scores are normalised: 1 = optimal, "
        "0 = uniform random, computed exactly from each task's known model. Intervals: "
        f"{bootstrap.method}, {bootstrap.resamples} resamples, seed {bootstrap.seed}, "
        f"{int(100 * bootstrap.confidence)}%. Ranked by IQM; a submission needs a successful "
        "run for every task and seed to be ranked. P(> X) is the probability of improvement "
        "over the best-ranked reference baseline X. \"verified\": how many of the "
        "submission's stored runs of that protocol `rlbench-icl verify` re-ran and found "
        "reproduced exactly "
        "(\"stale\" if a checked file changed since, \"no\" if never verified).", "",
        *sections,
        "## More", "",
        "- CSV of the tables above: [online](online_leaderboard.csv), "
        "[offline](offline_leaderboard.csv), [paper reproduction](paper_reproduction.csv).",
        "- Per-task tables: [online](online_tasks.md) ([csv](online_tasks.csv)), "
        "[offline](offline_tasks.md) ([csv](offline_tasks.csv)); online episodes to "
        "threshold: [md](online_threshold.md) ([csv](online_threshold.csv)); aggregates: "
        "[online](online_aggregates.csv), [offline](offline_aggregates.csv).",
        "- Figures: performance profiles ([online](online_performance_profiles.png), "
        "[offline](offline_performance_profiles.png)), sample efficiency "
        "([returns](online_sample_efficiency.png), "
        "[exploitation policy](online_policy_curves.png)), probability of improvement "
        "([online](online_probability_of_improvement.png), "
        "[offline](offline_probability_of_improvement.png)), per task "
        "([online](online_per_task.png), [offline](offline_per_task.png)), "
        "[offline by dataset size](offline_by_dataset_size.png).", "",
    ]
    if results.refused:
        lines += ["## Refused result files", ""]
        lines += [f"- {escape_markdown(path)}: {escape_markdown(reason)}"
                  for path, reason in results.refused]
        lines.append("")
    return "\n".join(lines)
