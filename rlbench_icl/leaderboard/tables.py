"""The leaderboard's tables: each writer puts its CSV (and Markdown) files under ``out`` and
returns the Markdown section of the front page, if it has one.

Cells of untrusted text (submission names, harness versions) are escaped for Markdown; the
CSV copies drop the escapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import scoring, store
from ..protocols.online import episodes_to_threshold
from ..tasks import Task
from .entries import Entry, Ranked, stream_id
from .render import (
    csv_text,
    escape_markdown,
    fmt,
    fmt_ci,
    markdown_table,
    median_episodes,
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
                      base: Ranked | None, bootstrap: scoring.BootstrapConfig,
                      verified: dict[str, str]) -> str:
    """``<protocol>_leaderboard.csv``: the ranked entries, then the incomplete ones with what
    keeps them off the ranking (in full below the table if it is longer than
    ``NOTE_WIDTH``)."""
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
    in_full = []
    for e in entries:
        if not e.complete:
            note = gap_note(e)
            if len(note) > NOTE_WIDTH:
                in_full.append(f"- {escape_markdown(e.name)}: {note}")
                note = gap_note(e, brief=True)
            rows.append(["—", escape_markdown(e.name) + " (incomplete)", note, "—", "—", "—",
                         "—", str(len(e.records)), str(len(e.failed)),
                         escape_markdown(", ".join(e.harness_versions)), verified[e.name]])
    store.write_atomic(out / f"{protocol}_leaderboard.csv",
                       csv_text([[c.replace("\\", "") for c in row] for row in rows], headers))
    section = f"## {FRONT_TITLES[protocol]}\n\n{markdown_table(rows, headers)}\n"
    if in_full:
        section += "\nNot ranked, in full:\n\n" + "".join(f"{line}\n" for line in in_full)
    return section


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
    return ", ".join(parts) + ": in full below the table" if brief else "; ".join(parts)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def write_task_tables(out: Path, protocol: str, ranked: list[Ranked], suite: list[str],
                      bootstrap: scoring.BootstrapConfig) -> None:
    """``<protocol>_tasks.md`` and ``.csv``: per task, each entry's mean over seeds with a
    bootstrap CI over seeds."""
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


def write_aggregates(out: Path, protocol: str, ranked: list[Ranked]) -> None:
    """``<protocol>_aggregates.csv``: every aggregate with its interval, six digits."""
    rows = [[r.entry.name] + [f"{v:.6f}" for a in r.aggregates.values() for v in a]
            for r in ranked]
    headers = ["submission"] + [f"{m}:{k}" for m in scoring.AGGREGATES
                                for k in ("point", "low", "high")]
    store.write_atomic(out / f"{protocol}_aggregates.csv", csv_text(rows, headers))


def write_threshold_table(out: Path, ranked: list[Ranked], suite: list[str],
                          tasks: dict[str, Task]) -> None:
    """``online_threshold.md`` and ``.csv``: median episodes-to-threshold (a 10-episode
    moving average of normalised returns reaching 0.9) per task, from the stored returns."""
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
            row.append(median_episodes(values, budget))
        rows.append(row)
    intro = ("# Episodes to threshold (online)\n\nThe first episode k from which the "
             "10-episode moving average of normalised returns reaches 0.9 (episodes k..k+9 "
             "average >= 0.9), median over seeds; runs that never reach it count as budget + 1 "
             "(shown \"> K\").\n\n")
    store.write_atomic(out / "online_threshold.md", intro + markdown_table(rows, headers)
                       + "\n")
    store.write_atomic(out / "online_threshold.csv", csv_text(rows, headers))


def write_offline_sizes_table(out: Path, ranked: list[Ranked], sizes: list[int],
                              iqms: list[list[tuple[float, float, float]]]) -> str:
    """``offline_by_dataset_size.csv``: each entry's IQM at each dataset size
    (from ``entries.offline_size_iqms``)."""
    headers = ["submission"] + [f"{n} episodes" for n in sizes]
    # four digits: at large datasets IQMs differ in the fourth (0.9995 against 0.9993)
    rows = [[escape_markdown(r.entry.name)] + [fmt_ci(*v, digits=4) for v in values]
            for r, values in zip(ranked, iqms, strict=True)]
    store.write_atomic(out / "offline_by_dataset_size.csv", csv_text(rows, headers))
    return ("### Offline IQM by dataset size (over tasks x behaviours)\n\n"
            + markdown_table(rows, headers) + "\n")
