"""The leaderboard's tables: each writer puts its CSV (and Markdown) files under ``out`` and
returns the Markdown section of the front page, if it has one.

Cells of untrusted text (submission names, harness versions) are escaped for Markdown; the
CSV copies drop the escapes.
"""

from __future__ import annotations

from pathlib import Path

from .. import scoring, store
from .entries import Entry, Ranked, task_intervals
from .render import (
    csv_interval,
    csv_number,
    csv_text,
    escape_markdown,
    fmt,
    fmt_ci,
    interval_headers,
    markdown_table,
    median_episodes,
    median_number,
    seed_ranges,
)

FRONT_TITLES = {
    "online": "Online: mean normalised return over the episode budget",
    "offline": "Offline: exact normalised value of the returned policy "
               "(mean over behaviours and dataset sizes)",
}
NOTE_WIDTH = 80
"""The longest note an incomplete entry's row holds; a longer one is shortened to counts, and
given in full below the table."""


def write_front_table(out: Path, protocol: str, entries: list[Entry], ranked: list[Ranked],
                      base: Ranked | None, poi: dict[str, tuple[float, float, float]],
                      verified: dict[str, str]) -> str:
    """``<protocol>_leaderboard.csv``: the ranked entries, with P(X > ``base``) from ``poi``
    (``entries.improvements``), then the incomplete ones with what keeps them off the
    ranking (in full below the Markdown table if it is longer than ``NOTE_WIDTH``)."""
    poi_name = f"P(> {base.entry.name if base else 'baseline'})"
    headers = ["rank", "submission", "IQM [95% CI]", "median", "mean", "optimality gap",
               f"{poi_name} [95% CI]", "runs", "failed", "harness", "verified"]
    csv_headers = (["rank", "submission", "status", *interval_headers("IQM"), "median", "mean",
                    "optimality gap", *interval_headers(poi_name), "runs", "failed",
                    "harness", "verified", "note"])
    rows, csv_rows, in_full = [], [], []
    for rank, r in enumerate(ranked, start=1):
        a, name = r.aggregates, r.entry.name
        harness = harness_text(r.entry)
        rows.append([str(rank), escape_markdown(name), fmt_ci(*a["IQM"]),
                     fmt(a["median"][0]), fmt(a["mean"][0]), fmt(a["optimality gap"][0]),
                     fmt_ci(*poi[name]) if name in poi else "—", str(r.matrix.size), "0",
                     escape_markdown(harness), verified[name]])
        csv_rows.append([str(rank), name, "ranked", *csv_interval(a["IQM"]),
                         *(csv_number(a[k][0]) for k in ("median", "mean", "optimality gap")),
                         *csv_interval(poi.get(name)), str(r.matrix.size), "0", harness,
                         verified[name], ""])
    for e in entries:
        if not e.complete:
            note = full = gap_note(e)
            if len(note) > NOTE_WIDTH:
                in_full.append(f"- {escape_markdown(e.name)}: {note}")
                note = gap_note(e, brief=True)
            harness = harness_text(e)
            rows.append(["—", escape_markdown(e.name) + f" ({e.status})", note, "—", "—", "—",
                         "—", str(len(e.records)), str(len(e.failed)),
                         escape_markdown(harness), verified[e.name]])
            csv_rows.append(["", e.name, e.status, *csv_interval(None), "", "", "",
                             *csv_interval(None), str(len(e.records)), str(len(e.failed)),
                             harness, verified[e.name], full])
    store.write_atomic(out / f"{protocol}_leaderboard.csv", csv_text(csv_rows, csv_headers))
    section = f"## {FRONT_TITLES[protocol]}\n\n{markdown_table(rows, headers)}\n"
    if in_full:
        section += "\nNot ranked, in full:\n\n" + "".join(f"{line}\n" for line in in_full)
    return section


def harness_text(entry: Entry) -> str:
    """The harness versions of its runs, and a warning when they record more than one code
    hash (runs of different code under one submission version)."""
    text = ", ".join(entry.harness_versions)
    if len(entry.code_hashes) > 1:
        text += f"; runs of {len(entry.code_hashes)} different code hashes"
    return text


def gap_note(entry: Entry, brief: bool = False) -> str:
    """What keeps an incomplete entry off the ranking, e.g. ``missing 3 of 160 runs:
    FrozenLake4x4-v0 seeds 7-9; 1 failed: Taxi-v0 seed 2``; ``brief`` gives the counts only."""
    missing = f"missing {len(entry.missing)} of {entry.grid_size} runs"
    parts = []
    for head, cells in ((missing, entry.missing), (f"{len(entry.failed)} failed", entry.failed)):
        if cells and brief:
            parts.append(head)
        elif cells:
            tasks = dict.fromkeys(t for t, _ in cells)  # in suite order
            parts.append(f"{head}: " + ", ".join(
                f"{t} {seed_ranges([s for u, s in cells if u == t])}" for t in tasks))
    if entry.refused:
        parts.append(_plural(entry.refused, "refused file"))
    if entry.in_process:
        head = _plural(len(entry.in_process), "in-process run")
        parts.append(head if brief else f"{head} (only sealed runs are ranked: re-run "
                     "without --in-process)")
    return ", ".join(parts) + ": in full below the table" if brief else "; ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def write_task_tables(out: Path, protocol: str, ranked: list[Ranked], suite: list[str],
                      bootstrap: scoring.BootstrapConfig, partial: list[Entry] = ()) -> None:
    """``<protocol>_tasks.md`` and ``.csv``: per task, each ranked entry's mean over seeds
    with a bootstrap CI over seeds, then each entry of ``partial`` (incomplete ones) on the
    seeds it ran successfully, its column marked "(incomplete)" ("—" where it has none)."""
    columns = [(r.entry.name, task_intervals(r.entry, protocol, bootstrap)) for r in ranked]
    columns += [(f"{e.name} ({e.status})", task_intervals(e, protocol, bootstrap))
                for e in partial]
    md_rows, csv_rows = [], []
    for task in suite:
        md_row, csv_row = [task], [task]
        for _, intervals in columns:
            ci = intervals[task][1] if task in intervals else None
            md_row.append(fmt_ci(*ci) if ci else "—")
            csv_row += csv_interval(ci)
        md_rows.append(md_row)
        csv_rows.append(csv_row)
    headers = ["task"] + [escape_markdown(r.entry.name) for r in ranked] + [
        escape_markdown(e.name) + f" ({e.status})" for e in partial]
    csv_headers = ["task"] + [h for label, _ in columns for h in interval_headers(label)]
    intro = (f"# Per-task {protocol} scores\n\nMean normalised score over seeds "
             f"[95% bootstrap CI over seeds]."
             + (" An incomplete submission's column covers the seeds it ran." if partial
                else "") + "\n\n")
    store.write_atomic(out / f"{protocol}_tasks.md", intro + markdown_table(md_rows, headers)
                       + "\n")
    store.write_atomic(out / f"{protocol}_tasks.csv", csv_text(csv_rows, csv_headers))


def write_aggregates(out: Path, protocol: str, ranked: list[Ranked]) -> None:
    """``<protocol>_aggregates.csv``: every aggregate with its interval, six digits."""
    rows = [[r.entry.name] + [v for a in r.aggregates.values() for v in csv_interval(a)]
            for r in ranked]
    headers = ["submission"] + [h for m in scoring.AGGREGATES for h in interval_headers(m)]
    store.write_atomic(out / f"{protocol}_aggregates.csv", csv_text(rows, headers))


def write_threshold_table(out: Path, ranked: list[Ranked], suite: list[str],
                          solve: dict[str, dict[str, tuple[int, list[int]]]]) -> None:
    """``online_threshold.md`` and ``.csv``: median episodes-to-threshold (a 10-episode
    moving average of normalised returns reaching 0.9) per task, from ``solve``
    (``entries.threshold_episodes`` of each ranked entry, by name). The CSV gives the
    number (budget + 1 when most runs never reached it) and each task's budget."""
    names = [r.entry.name for r in ranked]
    rows, csv_rows = [], []
    for task_id in suite:
        budget = solve[names[0]][task_id][0]
        rows.append([task_id] + [median_episodes(solve[n][task_id][1], budget)
                                 for n in names])
        csv_rows.append([task_id, str(budget)] + [median_number(solve[n][task_id][1])
                                                  for n in names])
    intro = ("# Episodes to threshold (online)\n\nThe first episode k from which the "
             "10-episode moving average of normalised returns reaches 0.9 (episodes k..k+9 "
             "average >= 0.9), median over seeds; runs that never reach it count as budget + 1 "
             "(shown \"> K\").\n\n")
    store.write_atomic(out / "online_threshold.md", intro + markdown_table(
        rows, ["task"] + [escape_markdown(n) for n in names]) + "\n")
    store.write_atomic(out / "online_threshold.csv", csv_text(csv_rows,
                                                              ["task", "budget"] + names))


SIZES_TITLES = {"dev": "Offline IQM by dataset size (over tasks x behaviours)",
                "test": "Test suite, offline IQM by dataset size (families as strata)"}


def write_offline_sizes_table(out: Path, ranked: list[Ranked], sizes: list[int],
                              iqms: list[list[tuple[float, float, float]]],
                              suite: str = "dev") -> str:
    """``offline_by_dataset_size.csv`` (``offline_test_by_dataset_size.csv`` for the test
    suite): each entry's IQM at each dataset size (from ``entries.offline_size_iqms`` or
    ``heldout.family_size_iqms``)."""
    headers = ["submission"] + [f"{n} episodes" for n in sizes]
    # four digits: at large datasets IQMs differ in the fourth (0.9995 against 0.9993)
    rows = [[escape_markdown(r.entry.name)] + [fmt_ci(*v, digits=4) for v in values]
            for r, values in zip(ranked, iqms, strict=True)]
    csv_rows = [[r.entry.name] + [c for v in values for c in csv_interval(v)]
                for r, values in zip(ranked, iqms, strict=True)]
    name = "offline_by_dataset_size" if suite == "dev" else f"offline_{suite}_by_dataset_size"
    store.write_atomic(out / f"{name}.csv", csv_text(
        csv_rows, ["submission"] + [h for n in sizes for h in interval_headers(f"IQM at {n}")]))
    return f"### {SIZES_TITLES[suite]}\n\n" + markdown_table(rows, headers) + "\n"
