"""Regeneration time of the committed leaderboard by step, the current code against the
previous implementation of every step it replaced, in one run on one core.

From ``leaderboard/results`` into temporary directories, CPU seconds (``process_time``: the
goals count one core, and the machine may be busy), best of ``--repeats``, each step timed
with the current code then with the previous one:

- read: ``load_results`` alone (decompress, parse, validate, rescore);
- tables: ``build_leaderboard(..., figures=False)``: read, bootstrap, every table and
  ``scores.csv``;
- figures: each figure spec of that build drawn (its bootstrap, PNG, PDF and SVG), timed
  figure by figure and summed;
- site: ``web.write_site`` of that build (``--html``).

The figure specs and the site are caught from one build (``captured``, which swaps two of
``build``'s steps); the tables, figures and site add up to a whole build. The previous
implementations are kept below and swapped in by ``previous()``: reading checked every
number's type one by one, resolved every file's path and rebuilt each file's protocol
settings; the bootstrap took the IQM with ``scipy.stats.trim_mean`` (a two-pivot
partition), gathered resamples with ``take_along_axis`` (then by (run, task) index pairs;
now one gather through flat indices), compared every resampled pair of runs for P(X > Y),
counted the performance profile one threshold at a time and computed all four aggregates
for the offline-size table's IQM; the sample-efficiency IQM curves summed each point's
middle half in the order a partition leaves it; binning a run's curve made its bin edges
anew each time; ``draw.save`` called ``savefig`` for each format, each first drawing the
figure with output disabled (the PNG's to solve the layout), and matplotlib placed every
title; the per-task small multiples shared one x axis over every panel (matplotlib then
checks all of them on each use of a panel's limits), with empty axes filling the last row,
and placed each panel's empty axis labels by measuring its tick labels; the heatmaps' cell
texts took part in the layout; the site computed again the per-task
intervals the tables had computed, and rendered every table cell through a template
macro. All give the same bytes as the current code but the sample-efficiency curves
(``tests/test_leaderboard.py -k committed`` checks the current code's).

Changed bytes, on purpose: the sample-efficiency curves' IQM is now summed in sorted
order, as ``scoring.iqm`` (float32 sums in another order move the curves in the sixth
digit: ``online_sample_efficiency.png``, ``.pdf`` and ``.svg``), which made that figure's
bootstrap ~4x cheaper.

Last, a cost measured, not cut: subsetting the PDFs' Type 42 fonts (fontTools), a fixed
cost per PDF (two per PDF where a text holds a ligature). matplotlib has no setting that
skips it and still embeds TrueType fonts: ``pdf.fonttype: 3`` gives Type 3 fonts, which
publishers refuse, and ``pdf.use14corefonts`` embeds none.

Goals: tables <= 10 s (issue 23); tables + figures + site under 30 s (issue 22).

Usage: python benchmarks/bench_leaderboard.py [--results DIR] [--repeats N]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before numpy is imported

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jinja2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends import _backend_pdf_ps  # noqa: E402
from scipy import stats  # noqa: E402

from rlbench_icl import default_registry, scoring, store  # noqa: E402
from rlbench_icl.leaderboard import (  # noqa: E402
    build,
    build_leaderboard,
    draw,
    entries,
    figures,
    results,
    tables,
    web,
    web_assets,
)
from rlbench_icl.leaderboard.entries import (  # noqa: E402
    offline_matrix,
    seed_mean_ci,
    stream_id,
    task_scores,
)
from rlbench_icl.leaderboard.style import load_styles  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# --- the previous implementations ----------------------------------------------------------

def _numbers_before(values) -> bool:
    return isinstance(values, list) and len(values) > 0 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _check_location_before(root: Path, path: Path, record: dict) -> None:
    expected = store.result_path(root, record["submission"]["name"], record["protocol"],
                                 record["task"]["id"], record["seed"])
    if str(path).endswith(".gz"):
        expected = expected.with_suffix(".json.gz")
    if expected.resolve() != Path(path).resolve():
        raise store.ResultFileError(f"{path}: its content says it belongs at {expected}")


def _iqm_before(scores: np.ndarray) -> np.ndarray:
    return stats.trim_mean(scores.reshape(*scores.shape[:-2], -1), 0.25, axis=-1)


def _resamples_before(scores: np.ndarray, config, stream: int = 0) -> np.ndarray:
    runs, tasks = scores.shape
    rng = np.random.default_rng([config.seed, stream])
    index = rng.integers(0, runs, size=(config.resamples, runs, tasks))
    return np.take_along_axis(scores[None], index, axis=1)


def _poi_with_ci_before(x, y, config, stream=0):
    rx = scoring.stratified_resamples(x, config, 2 * stream)
    ry = scoring.stratified_resamples(y, config, 2 * stream + 1)
    boot = np.concatenate([scoring.probability_of_improvement(rx[i:i + 250], ry[i:i + 250])
                           for i in range(0, config.resamples, 250)])
    return (float(scoring.probability_of_improvement(x, y)),
            *scoring.interval(boot, config.confidence))


def _profile_before(scores, thresholds, config, stream=0):
    flat = scoring.stratified_resamples(scores, config, stream).reshape(config.resamples, -1)
    point = (scores.ravel()[None, :] > thresholds[:, None]).mean(axis=1)
    boot = np.stack([(flat > t).mean(axis=1) for t in thresholds], axis=1)
    tail = 100 * (1 - config.confidence) / 2
    return point, *np.percentile(boot, [tail, 100 - tail], axis=0)


def _partitioned_iqm(scores: np.ndarray) -> np.ndarray:
    """The curves' IQM before: ``trim_mean``'s arithmetic, the middle half summed in the
    order a two-pivot partition leaves it."""
    flat = scores.reshape(*scores.shape[:-2], -1)
    size = flat.shape[-1]
    cut = size // 4
    middle = np.partition(flat, (cut, size - cut - 1), axis=-1)[..., cut:size - cut]
    return middle.mean(axis=-1)


def _iqm_curve_before(curves, config, stream=0):
    runs, tasks, points = curves.shape
    index = scoring.resample_index((runs, tasks), config, stream)
    point = _partitioned_iqm(np.moveaxis(curves, 2, 0))
    boot = np.empty((config.resamples, points))
    for p in range(points):
        boot[:, p] = _partitioned_iqm(np.ascontiguousarray(curves[..., p])[
            index, np.arange(tasks)])
    tail = 100 * (1 - config.confidence) / 2
    return point, *np.percentile(boot, [tail, 100 - tail], axis=0)


def _offline_size_iqms_before(ranked, bootstrap):
    sizes = sorted(set.intersection(*[{c["dataset_episodes"] for c in rec["result"]["cells"]}
                                      for r in ranked for rec in r.entry.records]))
    return sizes, [[scoring.aggregate_with_ci(offline_matrix(r.entry, n), bootstrap, stream_id(
        "offline", r.entry.name, str(n)))["IQM"] for n in sizes] for r in ranked]


def _save_before(fig, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in draw.FORMATS:
        paths.append(stem.with_suffix(f".{ext}"))
        fig.savefig(paths[-1], dpi=draw.DPI, metadata=draw.METADATA[ext])
        fig.set_layout_engine("none")
    plt.close(fig)
    return paths


def _grid_axes_before(fig, count, columns, **gridspec):
    rows = -(-count // columns)
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True,
                        gridspec_kw=gridspec).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return list(axes[:count])


def _annotate_before(ax, mean, spread):
    for i in range(mean.shape[0]):
        for j in range(mean.shape[1]):
            if np.isfinite(mean[i, j]):
                ax.text(j, i, f"{mean[i, j]:.2f}\n±{spread[i, j]:.2f}", ha="center",
                        va="center", fontsize=5, color="white" if mean[i, j] < 0.6 else
                        "black")


def _task_intervals_before(entry, protocol, bootstrap):
    """The task tables' intervals, computed there and not kept."""
    return {t: (v, seed_mean_ci(v, bootstrap, stream_id(protocol, entry.name, t)))
            for t, v in task_scores(entry, protocol).items()}


def _site_scores_before(site, ranking, entry):
    """``web.Site.scores`` computing the intervals again, kept by the site."""
    kept = site.__dict__.setdefault("_scores_before", {})
    key = (ranking.key, entry.name)
    if key not in kept:
        kept[key] = _task_intervals_before(entry, ranking.protocol, site.bootstrap)
    return kept[key]


MACROS_BEFORE = """{% macro table(t) -%}
<div class="tools"><input type="search" class="filter" data-table="{{ t.id }}"
 placeholder="Filter rows" aria-label="Filter the rows of {{ t.caption }}"></div>
<div class="scroll"><table id="{{ t.id }}" class="sortable">
<caption{% if not t.show_caption %} class="hidden"{% endif %}>{{ t.caption }}</caption>
<thead><tr>{% for c in t.columns %}<th scope="col" data-type="{{ c.type }}"
 aria-sort="none"><button type="button">{{ c.name }}</button></th>{% endfor %}</tr></thead>
<tbody>
{% for row in t.rows %}<tr{% if row.incomplete %} class="incomplete"{% endif %}>
{%- for cell in row.cells %}<td data-sort="{{ cell.sort }}">
{%- if cell.href %}<a href="{{ cell.href }}">{{ cell.text }}</a>{% else %}{{ cell.text }}{% endif %}
{%- if cell.ci %} <span class="ci">{{ cell.ci }}</span>{% endif %}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table></div>
{%- endmacro %}
"""


def _environment_before() -> jinja2.Environment:
    """The site's templates with the table as a macro."""
    extends = '{% extends "base.html" %}\n'
    pages = {name: text.replace(extends, extends.rstrip() + '{% from "macros.html" import '
                                'table %}\n', 1)
             for name, text in (("index.html", web_assets.INDEX),
                                ("tasks.html", web_assets.TASKS),
                                ("submission.html", web_assets.SUBMISSION),
                                ("task.html", web_assets.TASK))}
    return jinja2.Environment(
        loader=jinja2.DictLoader({"base.html": web_assets.BASE, "macros.html": MACROS_BEFORE,
                                  **pages}),
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


@contextlib.contextmanager
def previous():
    """The previous implementation of every replaced step, swapped in, then restored."""
    check_record = results._check_record
    rc = {k: v for k, v in draw.RC.items() if k != "axes.titley"}
    swaps = [(store, "_numbers", _numbers_before),
             (store, "check_location", _check_location_before),
             (results, "_check_record", lambda *args: check_record(*args[:4], {})),
             (scoring, "iqm", _iqm_before),
             (scoring, "stratified_resamples", _resamples_before),
             (scoring, "probability_of_improvement_with_ci", _poi_with_ci_before),
             (scoring, "performance_profile", _profile_before),
             (scoring, "iqm_curve", _iqm_curve_before),
             (build, "offline_size_iqms", _offline_size_iqms_before),
             (draw, "save", _save_before), (draw, "RC", rc),
             (draw, "_grid_axes", _grid_axes_before), (draw, "_annotate", _annotate_before),
             (tables, "task_intervals", _task_intervals_before),
             (web.Site, "scores", _site_scores_before),
             (web, "_environment", _environment_before),
             (entries, "_bins", entries._bins.__wrapped__)]  # uncached
    with swapped(swaps):
        scoring.AGGREGATES["IQM"] = _iqm_before
        try:
            yield
        finally:
            scoring.AGGREGATES["IQM"] = scoring.iqm


@contextlib.contextmanager
def swapped(swaps: list[tuple]):
    """Each ``(module, name, value)`` set, then the old values put back."""
    kept = [(module, name, getattr(module, name)) for module, name, _ in swaps]
    for module, name, value in swaps:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in kept:
            setattr(module, name, value)


# --- timing --------------------------------------------------------------------------------

def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def build_once(results_dir: Path, out: Path, figures: bool, site: bool) -> None:
    build_leaderboard(results_dir, out, default_registry(), test_suite="test",
                      figures=figures, html_dir=out if site else None)


def captured(results_dir: Path, out: Path) -> tuple[list, Path, web.Site]:
    """A build's figure specs and site, caught on their way to being drawn and written
    (each is then timed on its own)."""
    seen = {}

    def figure_specs(out, rankings, bootstrap, loaded, progress):
        seen["specs"] = figures.figure_specs(rankings, bootstrap, loaded.tasks, load_styles())
        return seen["specs"]

    def write_site(html_dir, out_dir, site, progress=False):
        seen["site"] = site

    with swapped([(build, "_write_figures", figure_specs), (web, "write_site", write_site)]):
        build_once(results_dir, out, True, True)
    return seen["specs"], out, seen["site"]


def fresh(site: web.Site, intervals: list[tuple]) -> web.Site:
    """``site`` as the build hands it over: its entries hold the per-task intervals the
    tables computed (``intervals``, saved after the build), none of the site's own."""
    for entry, saved in intervals:
        entry.intervals.clear()
        entry.intervals.update(saved)
    return dataclasses.replace(site, _online={})


def timings(results_dir: Path, repeats: int, tmp: Path, specs: list, out: Path,
            site: web.Site) -> dict[tuple[str, str], float]:
    """Best CPU seconds of each step and version; the figures one by one, so that a busy
    moment of the machine hits both versions of one figure rather than one version."""
    tables_done = [(e, dict(e.intervals)) for r in site.rankings for e in r.entries]
    work = [("read", lambda: results.load_results(results_dir, default_registry())),
            ("tables", lambda: build_once(results_dir, tmp / "tables", False, False))]
    work += [(f"figure {s.stem}", lambda s=s: s.draw(tmp / "figures" / s.stem)) for s in specs]
    work.append(("site", lambda: web.write_site(out, out, fresh(site, tables_done))))
    best: dict[tuple[str, str], float] = {}
    for _ in range(repeats):
        for name, fn in work:
            for version in ("current", "previous"):
                with previous() if version == "previous" else contextlib.nullcontext():
                    seconds = cpu(fn)
                best[name, version] = min(best.get((name, version), np.inf), seconds)
    return best


def font_subsetting(specs: list, tmp: Path) -> tuple[float, int]:
    """CPU seconds and calls of fontTools subsetting (the PDFs' Type 42 fonts) in drawing
    ``specs``, timed by wrapping matplotlib's (private) helper."""
    original, spent = _backend_pdf_ps.get_glyphs_subset, [0.0, 0]

    def timed(*args):
        start = time.process_time()
        try:
            return original(*args)
        finally:
            spent[0] += time.process_time() - start
            spent[1] += 1

    with swapped([(_backend_pdf_ps, "get_glyphs_subset", timed)]):
        for spec in specs:
            spec.draw(tmp / "fonts" / spec.stem)
    return spent[0], spent[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "leaderboard" / "results")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    files = sum(1 for _ in args.results.rglob("seed-*.json*"))
    print(f"{files} result files, 2000 resamples, one core; CPU seconds, best of "
          f"{args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        specs, out, site = captured(args.results, Path(tmp) / "out")
        best = timings(args.results, args.repeats, Path(tmp), specs, out, site)
        subsetting = font_subsetting(specs, Path(tmp))
    rows = {}
    for (name, version), seconds in best.items():
        step = "figures" if name.startswith("figure ") else name
        rows.setdefault(step, {}).setdefault(version, 0.0)
        rows[step][version] += seconds
    rows["tables + figures + site"] = {v: sum(rows[s][v] for s in ("tables", "figures", "site"))
                                       for v in ("current", "previous")}
    print(f"{'step':<26}{'current':>9}{'previous':>10}")
    for step, by_version in rows.items():
        print(f"{step:<26}{by_version['current']:9.1f}{by_version['previous']:10.1f}")
    print("(read is part of tables; goals: tables <= 10 s, tables + figures + site < 30 s)")
    print(f"of the figures: Type 42 font subsetting of the PDFs {subsetting[0]:.1f} s "
          f"({subsetting[1]} subsets), kept (no matplotlib setting skips it)")


if __name__ == "__main__":
    main()
