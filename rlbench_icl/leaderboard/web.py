"""The static web leaderboard: ``rlbench-icl leaderboard --html DIR``.

A self-contained site (no CDN, no network: it opens from disk and any static host serves
it): ``index.html`` with the sortable, filterable ranking tables read back from the numeric
CSVs (so the page shows exactly what the downloads hold), the figures and the download
links; ``tasks.html``; a page per submission (metadata, code hash, verified status, per-task
results) and per task (exact values, description, reference, scores, learning curves).

Every user-supplied string (submission metadata, refused files' reasons) goes through
jinja2's autoescaping (the tables' cells, joined in ``table_html``, through the same
``markupsafe`` escape); a submission's URL becomes a link only with an http(s) scheme. When
``DIR`` is not the leaderboard's own directory, the CSVs and figures are copied into it.
Same inputs, same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np
from markupsafe import Markup
from tqdm.auto import tqdm

from .. import scoring, store
from ..tasks import Task
from . import web_assets
from .entries import Entry, Ranking, binned_returns, code_hashes, task_intervals
from .heldout import TEST_TITLES
from .render import csv_interval, fmt, fmt_ci
from .results import Results
from .style import Styles, load_styles
from .tables import FRONT_TITLES, SIZES_TITLES

CURVE_POINTS = 20
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
TABLES = [  # the index page's tables, in order: file, title, digits
    ("online_test_leaderboard.csv", TEST_TITLES["online"], 3),
    ("offline_test_leaderboard.csv", TEST_TITLES["offline"], 3),
    ("online_test_families.csv", "Test suite, online, per family: mean over instances and "
     "seeds [95% CI]", 3),
    ("offline_test_families.csv", "Test suite, offline, per family: mean over instances and "
     "seeds [95% CI]", 3),
    ("offline_test_by_dataset_size.csv", SIZES_TITLES["test"], 4),
    ("model_vs_inputs.csv", "What the network adds over its own inputs", 3),
    ("ablation.csv", "Ablation: what each part of the foundation model adds (IQM)", 3),
    ("online_leaderboard.csv", "Dev suite. " + FRONT_TITLES["online"], 3),
    ("offline_leaderboard.csv", "Dev suite. " + FRONT_TITLES["offline"], 3),
    ("offline_by_dataset_size.csv", SIZES_TITLES["dev"], 4),
    ("paper_reproduction.csv", "Paper reproduction: median episodes-to-solve", 3),
]
TASK_TABLES = [("online_tasks.csv", "Per-task online scores (dev suite): mean over seeds "
                "[95% CI]"),
               ("offline_tasks.csv", "Per-task offline scores (dev suite): mean over seeds "
                "[95% CI]")]


@dataclass
class Site:
    """What the site is made of: the loaded results, the rankings and their verification
    status (by ranking key, then submission), and the figures' (stem, caption) pairs."""

    results: Results
    rankings: list[Ranking]
    verified: dict[str, dict[str, str]]
    figures: list[tuple[str, str]]
    bootstrap: scoring.BootstrapConfig
    intro: str
    styles: Styles = field(default_factory=load_styles)
    _online: dict = field(default_factory=dict, repr=False)

    def scores(self, ranking: Ranking, entry: Entry) -> dict[str, tuple]:
        """Per task the entry ran: its scores over seeds and their mean with a CI (those of
        the per-task tables, so the pages and the CSVs agree)."""
        return task_intervals(entry, ranking.protocol, self.bootstrap)

    def online_runs(self, task_id: str) -> dict[str, list[dict]]:
        """The successful online runs of a task, by submission."""
        if not self._online:
            for (protocol, name), records in sorted(self.results.records.items()):
                for r in records:
                    if protocol == "online" and r["status"] == "ok":
                        self._online.setdefault(r["task"]["id"], {}).setdefault(
                            name, []).append(r)
        return self._online.get(task_id, {})


@dataclass
class Cell:
    """A table cell: what it shows, what it sorts by, a link and an interval, if any."""

    text: str
    sort: str
    href: str = ""
    ci: str = ""


@dataclass
class Table:
    """A sortable, filterable table: columns ``{"name", "type"}`` (``number`` or ``text``),
    rows ``{"cells": [Cell, ...], "incomplete": bool}``."""

    id: str
    caption: str
    columns: list[dict]
    rows: list[dict]
    show_caption: bool = True
    """False where a heading above the table says the same."""


def write_site(html_dir: Path, out_dir: Path, site: Site, progress: bool = False
               ) -> list[Path]:
    """Write the site under ``html_dir`` from the leaderboard written under ``out_dir``;
    returns the pages written."""
    html_dir, out_dir = Path(html_dir), Path(out_dir)
    _copy_files(out_dir, html_dir)
    env = _environment()
    names = sorted({name for _, name in site.results.records})
    linked = {"submissions": set(names), "tasks": set(site.results.tasks)}
    tasks = list(dict.fromkeys(t for r in site.rankings for e in r.entries for t in e.tasks))
    pages = [("index.html", lambda: _index(env, html_dir, site, linked)),
             ("tasks.html", lambda: _tasks_page(env, html_dir, site, tasks, linked))]
    pages += [(f"submissions/{_slug(n)}.html",
               lambda n=n: _submission_page(env, site, n, linked)) for n in names]
    pages += [(f"tasks/{_slug(t)}.html", lambda t=t: _task_page(env, site, t, linked))
              for t in tasks if t in site.results.tasks]
    written = []
    for path, render in tqdm(pages, desc="site", unit="page", disable=not progress,
                             leave=False):
        store.write_atomic(html_dir / path, render())
        written.append(html_dir / path)
    store.write_atomic(html_dir / "assets" / "site.css", web_assets.CSS)
    store.write_atomic(html_dir / "assets" / "site.js", web_assets.JS)
    for stale in sorted(html_dir.glob("submissions/*.html")) + sorted(
            html_dir.glob("tasks/*.html")):
        if stale not in written:  # a page of a submission or task no longer there
            stale.unlink()
    return written


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.DictLoader({"base.html": web_assets.BASE, "index.html": web_assets.INDEX,
                                  "tasks.html": web_assets.TASKS,
                                  "submission.html": web_assets.SUBMISSION,
                                  "task.html": web_assets.TASK}),
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.globals["table"] = table_html
    return env


def table_html(table: Table) -> Markup:
    """A table as the sortable, filterable markup ``site.js`` reads, every text escaped.
    Joined as strings, not templated: a template loop per cell took most of the pages'
    template time."""
    e = _escape
    head = "".join(f'<th scope="col" data-type="{e(c["type"])}"\n aria-sort="none"><button '
                   f'type="button">{e(c["name"])}</button></th>' for c in table.columns)
    rows = "".join(("<tr class=\"incomplete\">" if row["incomplete"] else "<tr>")
                   + "".join(_cell_html(cell) for cell in row["cells"]) + "</tr>\n"
                   for row in table.rows)
    hidden = "" if table.show_caption else ' class="hidden"'
    return Markup(
        f'<div class="tools"><input type="search" class="filter" data-table="{e(table.id)}"\n'
        f' placeholder="Filter rows" aria-label="Filter the rows of {e(table.caption)}"></div>\n'
        f'<div class="scroll"><table id="{e(table.id)}" class="sortable">\n'
        f"<caption{hidden}>{e(table.caption)}</caption>\n<thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n{rows}</tbody>\n</table></div>")


def _cell_html(cell: Cell) -> str:
    e = _escape
    text = f'<a href="{e(cell.href)}">{e(cell.text)}</a>' if cell.href else e(cell.text)
    ci = f' <span class="ci">{e(cell.ci)}</span>' if cell.ci else ""
    return f'<td data-sort="{e(cell.sort)}">{text}{ci}</td>'


def _escape(text) -> str:
    return str(Markup.escape(text))


def _copy_files(out_dir: Path, html_dir: Path) -> None:
    """The CSVs and figures, into a site directory that is not the leaderboard's own."""
    if html_dir.resolve() == out_dir.resolve():
        return
    for path in sorted(out_dir.glob("*.csv")) + sorted(out_dir.glob("figures/*")):
        target = html_dir / path.relative_to(out_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _slug(name: str) -> str:
    """A page's file name: the name itself (stored names are safe), else a hash of it."""
    return name if SAFE_NAME.match(name) else "x-" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _index(env: jinja2.Environment, html_dir: Path, site: Site, linked: dict) -> str:
    sections = []
    for i, (filename, title, digits) in enumerate(TABLES):
        if (html_dir / filename).exists():
            table = csv_table((html_dir / filename).read_text("utf-8"), f"t{i}", title, "",
                              digits, linked)
            table.show_caption = False
            sections.append({"id": filename.removesuffix(".csv"), "title": title, "note": "",
                             "table": table})
    figures = [{"caption": caption, **{ext: f"figures/{stem}.{ext}"
                                       for ext in ("png", "pdf", "svg")}}
               for stem, caption in site.figures]
    downloads = [(p.name, p.name) for p in sorted(html_dir.glob("*.csv"))]
    return env.get_template("index.html").render(
        title="rlbench-icl leaderboard", root="", intro=site.intro, sections=sections,
        refused=site.results.refused, figures=figures, downloads=downloads)


def csv_table(text: str, table_id: str, caption: str, root: str, digits: int = 3,
              linked: dict[str, set[str]] | None = None) -> Table:
    """A numeric CSV as a sortable table: the columns ``X``, ``X low``, ``X high`` become
    one cell ``X [low, high]`` sorted by ``X``; a column whose cells are all numbers (or
    empty) sorts as numbers; a ``submission`` cell in ``linked["submissions"]`` and a
    ``task`` or ``id`` cell in ``linked["tasks"]`` link to their pages (under ``root``); a
    row whose ``status`` is ``incomplete`` is marked."""
    linked = linked or {}
    header, *body = list(csv.reader(io.StringIO(text)))
    groups, i = [], 0
    while i < len(header):
        triple = header[i + 1:i + 3] == [f"{header[i]} low", f"{header[i]} high"]
        groups.append((header[i], [i, i + 1, i + 2] if triple else [i]))
        i += 3 if triple else 1
    columns, rows = [], [{"cells": [], "incomplete": False} for _ in body]
    for name, index in groups:
        values = [row[index[0]] for row in body]
        numeric = all(v == "" or _number(v) is not None for v in values)
        columns.append({"name": name, "type": "number" if numeric else "text"})
        for row, raw in zip(rows, body, strict=True):
            row["cells"].append(_cell(name, [raw[j] for j in index], numeric, digits, root,
                                      linked))
            row["incomplete"] |= name == "status" and raw[index[0]] not in ("ranked", "")
    return Table(table_id, caption, columns, rows)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _cell(column: str, raw: list[str], numeric: bool, digits: int, root: str,
          linked: dict[str, set[str]]) -> Cell:
    value = raw[0]
    href = ""
    if column == "submission" and value in linked.get("submissions", ()):
        href = f"{root}submissions/{_slug(value)}.html"
    elif column in ("task", "id") and value in linked.get("tasks", ()):
        href = f"{root}tasks/{_slug(value)}.html"
    if not numeric or value == "":
        return Cell(value or "—", value, href)
    text = value if re.fullmatch(r"-?[0-9]+", value) else fmt(float(value), digits)
    ci = ""
    if len(raw) == 3 and raw[1] != "":
        ci = f"[{fmt(float(raw[1]), digits)}, {fmt(float(raw[2]), digits)}]"
    return Cell(text, value, href, ci)


def _tasks_page(env: jinja2.Environment, html_dir: Path, site: Site, tasks: list[str],
                linked: dict) -> str:
    suites = {t: ", ".join(sorted({r.selector for r in site.rankings for e in r.entries
                                   if t in e.tasks})) for t in tasks}
    rows = [[t, suites[t], *_task_numbers(site.results.tasks.get(t))] for t in tasks]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [["id", "suite", "S", "A", "H", "episodes", "V*", "V_rand", "reference"], *rows])
    tables = [csv_table(buffer.getvalue(), "tasks", "Tasks", "", 4, linked)]
    for i, (filename, caption) in enumerate(TASK_TABLES):
        if (html_dir / filename).exists():
            tables.append(csv_table((html_dir / filename).read_text("utf-8"), f"pt{i}",
                                    caption, "", 3, linked))
    return env.get_template("tasks.html").render(title="Tasks", root="", tables=tables)


def _task_numbers(task: Task | None) -> list[str]:
    if task is None:
        return [""] * 7
    m = task.mdp
    return [str(m.num_states), str(m.num_actions), str(m.horizon),
            str(task.spec.online_episodes), f"{task.optimal_value:.6f}",
            f"{task.random_value:.6f}", task.spec.reference]


def _submission_page(env: jinja2.Environment, site: Site, name: str, linked: dict) -> str:
    records = [r for (_, n), rs in sorted(site.results.records.items()) if n == name
               for r in rs]
    metadata = dict(records[0]["submission"])
    url = str(metadata.get("url", ""))
    standings = [_standing(site, r, name, linked) for r in _test_first(site.rankings)
                 if any(e.name == name for e in r.entries)]
    style = site.styles.of(name)
    kind = ("Reference submission (shipped in submissions/)" if style.reference
            else "User submission")
    return env.get_template("submission.html").render(
        title=name, root="../", kind=kind,
        metadata=_metadata_rows(metadata) + [("code hash", _code_hashes(records))],
        url=url if url.startswith(("https://", "http://")) else "", standings=standings)


def _metadata_rows(metadata: dict) -> list[tuple[str, str]]:
    """Every metadata field as text."""
    return [(key, value if isinstance(value, str) else json.dumps(value, sort_keys=True))
            for key, value in sorted(metadata.items()) if key != "url"]


def _code_hashes(records: list[dict]) -> str:
    """The content hash of the submission's code its runs record (``record["code"]``), and
    a warning when its runs come from more than one."""
    hashes = code_hashes(records)
    unrecorded = sum(1 for r in records if not isinstance(r.get("code"), dict))
    if not hashes:
        return "not recorded by these results"
    text = ", ".join(hashes)
    if len(hashes) > 1:
        text = f"{len(hashes)} different code hashes among its runs: {text}"
    if unrecorded:
        text += f" ({unrecorded} runs record none)"
    return text


def _test_first(rankings: list[Ranking]) -> list[Ranking]:
    return sorted(rankings, key=lambda r: r.suite != "test")


def _standing(site: Site, ranking: Ranking, name: str, linked: dict) -> dict:
    entry = next(e for e in ranking.entries if e.name == name)
    ranked = [r.entry.name for r in ranking.ranked]
    where = f"{ranking.selector} suite, {ranking.protocol}"
    if name in ranked:
        a = next(r for r in ranking.ranked if r.entry.name == name).aggregates
        status = f"Rank {ranked.index(name) + 1} of {len(ranked)}: IQM {fmt_ci(*a['IQM'])}."
    else:
        status = "Incomplete, not ranked: per-task scores below cover what it ran."
    status += f" Verified: {site.verified[ranking.key].get(name, 'no')}."
    return {"title": where.capitalize(), "status": status,
            "table": _entry_table(site, ranking, entry, linked)}


def _entry_table(site: Site, ranking: Ranking, entry: Entry, linked: dict) -> Table:
    scores = site.scores(ranking, entry)
    rows = [["task", "mean", "mean low", "mean high", "seeds", "failed"]]
    for t in entry.tasks:
        values, ci = scores.get(t, ((), None))
        rows.append([t, *csv_interval(ci), str(len(values)),
                     str(sum(1 for f, _ in entry.failed if f == t))])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return csv_table(buffer.getvalue(), f"r-{ranking.key}", "Per-task scores: mean over "
                     "seeds [95% CI]", "../", 3, linked)


def _task_page(env: jinja2.Environment, site: Site, task_id: str, linked: dict) -> str:
    task = site.results.tasks[task_id]
    spec, m = task.spec, task.mdp
    facts = [("reference", spec.reference), ("tags", ", ".join(spec.tags)),
             ("states S, actions A", f"{m.num_states}, {m.num_actions}"),
             ("horizon H, discount", f"{m.horizon}, {m.discount:g} ({m.objective})"),
             ("online episode budget K", str(spec.online_episodes)),
             ("offline dataset sizes", ", ".join(map(str, spec.offline_dataset_episodes))),
             ("offline behaviours ε", ", ".join(f"{e:g}" for e in spec.offline_epsilons)),
             ("V*(μ0), exact", f"{task.optimal_value:.6f}"),
             ("V_rand(μ0), exact", f"{task.random_value:.6f}"), ("digest", task.digest)]
    tables = [_task_table(site, r, task_id, linked) for r in _test_first(site.rankings)
              if task_id in r.entries[0].tasks]
    return env.get_template("task.html").render(
        title=task_id, root="../", description=spec.description, facts=facts, tables=tables,
        curves=_curves(site, task_id), points=CURVE_POINTS)


def _task_table(site: Site, ranking: Ranking, task_id: str, linked: dict) -> Table:
    rows = [["submission", "status", "mean", "mean low", "mean high", "seeds"]]
    for e in [r.entry for r in ranking.ranked] + ranking.incomplete:
        if task_id in (scores := site.scores(ranking, e)):
            values, ci = scores[task_id]
            rows.append([e.name, e.status,
                         *csv_interval(ci), str(len(values))])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return csv_table(buffer.getvalue(), f"s-{ranking.key}", f"{ranking.selector} suite, "
                     f"{ranking.protocol}: mean over seeds [95% CI]", "../", 3, linked)


def _curves(site: Site, task_id: str) -> Markup | None:
    """Each online submission's mean binned normalised return on the task, as an inline SVG
    chart with an HTML legend (the chart holds numbers and colours only)."""
    task = site.results.tasks[task_id]
    series = {name: np.mean([binned_returns(r, task, "returns", CURVE_POINTS) for r in runs],
                            axis=0) for name, runs in site.online_runs(task_id).items()}
    return svg_chart(series, site.styles) if series else None


def svg_chart(series: dict[str, np.ndarray], styles: Styles, width: int = 640,
              height: int = 300) -> Markup:
    """A line per submission of values at equal steps of the budget, y from min(0, values)
    to max(1, values); names appear only in the escaped legend."""
    lo = min(0.0, *(float(v.min()) for v in series.values()))
    hi = max(1.0, *(float(v.max()) for v in series.values()))
    left, right, top, bottom = 44, 10, 10, 30

    def xy(i: int, n: int, v: float) -> str:
        x = left + (width - left - right) * (i + 0.5) / n
        y = top + (height - top - bottom) * (hi - v) / (hi - lo)
        return f"{x:.1f},{y:.1f}"

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="learning curves" xmlns="http://www.w3.org/2000/svg">']
    for tick in (lo, 0.0, 0.5, 1.0, hi):
        y = xy(0, 1, tick).split(",")[1]
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" '
                     f'stroke="#ddd"/><text x="{left - 4}" y="{y}" font-size="11" '
                     f'text-anchor="end" dominant-baseline="middle">{tick:.2f}</text>')
    parts.append(f'<text x="{(width + left) / 2:.0f}" y="{height - 6}" font-size="11" '
                 'text-anchor="middle">% of the episode budget</text>')
    for name, values in series.items():
        s = styles.of(name)
        dash = {"-": "", "--": ' stroke-dasharray="6 3"', ":": ' stroke-dasharray="2 3"'}.get(
            s.line, ' stroke-dasharray="8 3 2 3"')
        points = " ".join(xy(i, len(values), float(v)) for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{s.colour}" stroke-width="2"{dash} '
                     f'points="{points}"/>')
    parts.append("</svg>")
    legend = "".join(f'<li><span class="swatch" style="background:{styles.of(n).colour}">'
                     f'</span>{Markup.escape(styles.of(n).label(n))}</li>' for n in series)
    return Markup("".join(parts) + f'<ul class="legend">{legend}</ul>')
