"""The leaderboard's figure set: which figures, from which ranking, with what data.

Every figure is written as PNG, PDF and SVG under ``figures/`` (``draw.save``), from the
stored results alone: bootstrap streams are keyed by (protocol, submission, ...), so the same
results give the same bytes. Per ranking (dev and test suite, each protocol): interval
estimates of the four aggregates, performance profiles, the probability of improvement over
the reference baseline, and a task (dev) or family (test) heatmap. On the dev suite, online:
sample-efficiency curves (return and exploitation value), per-task learning curves and
cumulative regret, and the ECDF of episodes to solve; offline: score against dataset size, one
panel per behaviour. Incomplete submissions appear, marked, in the per-task figures (heatmap,
learning curves) for what they ran; the aggregate figures hold ranked ones only.

``figure_specs`` lists the figures without drawing them, so the caller can show progress; a
spec's ``draw`` computes its data (bootstraps included) and writes its three files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import scoring
from ..tasks import Task
from . import draw
from .entries import (
    Ranking,
    binned_returns,
    curve_array,
    offline_matrix,
    stream_id,
    task_scores,
    threshold_episodes,
)
from .heldout import family_matrix
from .style import Styles

CURVE_POINTS = 20
"""Bins of the episode budget in every learning curve (the IQM curves' bootstrap, the
costliest part of the figure set, grows with it)."""
PROFILE_THRESHOLDS = np.linspace(0.0, 1.0, 41)
SUITE_LABELS = {"dev": "dev suite", "test": "test suite"}


@dataclass(frozen=True)
class FigureSpec:
    """One figure: its file stem under ``figures/``, a caption, and how to draw it."""

    stem: str
    caption: str
    draw: Callable[[Path], list[Path]]


def figure_specs(rankings: list[Ranking], bootstrap: scoring.BootstrapConfig,
                 tasks: dict[str, Task], styles: Styles) -> list[FigureSpec]:
    """Every figure of ``rankings`` (see the module docstring), in a fixed order."""
    specs = []
    for ranking in rankings:
        if not ranking.ranked:
            continue
        specs += _ranking_specs(ranking, styles)
        if ranking.suite == "dev" and ranking.protocol == "online":
            specs += _online_specs(ranking, bootstrap, tasks, styles)
        if ranking.suite == "dev" and ranking.protocol == "offline":
            specs.append(FigureSpec(
                "offline_by_dataset_size", "Offline IQM against dataset size, one panel per "
                "behaviour ε (95% CIs)",
                lambda stem, r=ranking: _offline_sizes(stem, r, bootstrap, styles)))
    return specs


def _title(ranking: Ranking, what: str) -> str:
    return f"{what} ({ranking.protocol}, {SUITE_LABELS.get(ranking.suite, ranking.suite)})"


def _ranking_specs(ranking: Ranking, styles: Styles) -> list[FigureSpec]:
    key, r = ranking.key, ranking
    specs = [
        FigureSpec(f"{key}_interval_estimates",
                   _title(r, "IQM, median, mean and optimality gap with 95% CIs"),
                   lambda stem: draw.intervals(
                       stem, {m: {x.entry.name: x.aggregates[m] for x in r.ranked}
                              for m in scoring.AGGREGATES}, styles,
                       _title(r, "Aggregate normalised scores, 95% CIs"))),
        FigureSpec(f"{key}_performance_profiles", _title(r, "Performance profiles, 95% CIs"),
                   lambda stem: _profiles(stem, r, styles)),
    ]
    if r.poi:
        base = r.base.entry.name
        specs.append(FigureSpec(
            f"{key}_probability_of_improvement",
            _title(r, f"Probability of improvement over {base}, 95% CIs"),
            lambda stem: draw.intervals(
                stem, {f"P(X > {base})": r.poi}, styles,
                _title(r, f"Probability of improvement over {base}"),
                xlabel="probability of improvement", reference=0.5)))
    what = ("task, ± sd over seeds" if r.suite == "dev"
            else "family, ± sd over instances and seeds")
    specs.append(FigureSpec(f"{key}_heatmap", _title(r, f"Mean normalised score per {what}"),
                            lambda stem: _heatmap(stem, r, styles)))
    return specs


def _profiles(stem: Path, ranking: Ranking, styles: Styles) -> list[Path]:
    tag = "profile" if ranking.suite == "dev" else "test-profile"
    curves = {r.entry.name: (PROFILE_THRESHOLDS, *scoring.performance_profile(
        r.matrix, PROFILE_THRESHOLDS, r.bootstrap, stream_id(ranking.protocol, r.entry.name,
                                                             tag)))
        for r in ranking.ranked}
    return draw.bands(stem, [("fraction of runs with score > τ", curves)], styles,
                      "normalised score threshold τ", _title(ranking, "Performance profiles"))


def _heatmap(stem: Path, ranking: Ranking, styles: Styles) -> list[Path]:
    """Dev: tasks x submissions, incomplete ones on what they ran; test: families x ranked
    submissions (over instances and seeds)."""
    if ranking.suite == "dev":
        entries = [r.entry for r in ranking.ranked] + ranking.incomplete
        rows = entries[0].tasks
        scores = [task_scores(e, ranking.protocol) for e in entries]
        mean = np.array([[s[t].mean() if t in s else np.nan for s in scores] for t in rows])
        spread = np.array([[s[t].std() if t in s else np.nan for s in scores] for t in rows])
        names = [e.name for e in entries]
    else:
        rows = family_matrix(ranking.ranked[0].entry, ranking.protocol)[0]
        mean = np.array([r.matrix.mean(axis=0) for r in ranking.ranked]).T
        spread = np.array([r.matrix.std(axis=0) for r in ranking.ranked]).T
        names = [r.entry.name for r in ranking.ranked]
    return draw.heatmap(stem, rows, names, mean, spread, styles,
                        _title(ranking, "Mean normalised score"),
                        marked=[e.name for e in ranking.incomplete])


def _online_specs(ranking: Ranking, bootstrap: scoring.BootstrapConfig,
                  tasks: dict[str, Task], styles: Styles) -> list[FigureSpec]:
    return [
        FigureSpec("online_sample_efficiency", "Sample efficiency: IQM normalised return and "
                   "value of the exploitation policy along the budget (95% CIs, dev suite)",
                   lambda stem: _sample_efficiency(stem, ranking, bootstrap, tasks, styles)),
        FigureSpec("online_learning_curves", "Per-task learning curves: mean normalised return "
                   "over seeds (dev suite)",
                   lambda stem: _per_task(stem, ranking, tasks, styles, regret=False)),
        FigureSpec("online_cumulative_regret", "Per-task cumulative regret Σ(V* − G_k), mean "
                   "over seeds (dev suite)",
                   lambda stem: _per_task(stem, ranking, tasks, styles, regret=True)),
        FigureSpec("online_episodes_to_solve", "ECDF of episodes to threshold (a 10-episode "
                   "moving average of normalised return reaching 0.9, as online_threshold.md; "
                   "not the protocol's episodes to solve), % of the budget (dev suite)",
                   lambda stem: _episodes_to_solve(stem, ranking, tasks, styles)),
    ]


def _sample_efficiency(stem: Path, ranking: Ranking, bootstrap: scoring.BootstrapConfig,
                       tasks: dict[str, Task], styles: Styles) -> list[Path]:
    """IQM over runs and tasks of the binned normalised returns and exploitation values;
    an entry that did not record a quantity is left out of its panel."""
    x = 100 * (np.arange(CURVE_POINTS) + 0.5) / CURVE_POINTS
    panels = []
    for key, label in (("returns", "return"), ("policy_values", "exploitation policy value")):
        curves = {}
        for r in ranking.ranked:
            arrays = curve_array(r.entry, key, CURVE_POINTS, tasks)
            if arrays is not None:  # float32: a quarter faster to bootstrap, ample for a plot
                curves[r.entry.name] = (x, *scoring.iqm_curve(
                    arrays.astype(np.float32), bootstrap, stream_id("online", r.entry.name,
                                                                    key)))
        panels.append((f"IQM normalised {label}", curves))
    return draw.bands(stem, panels, styles, "% of the episode budget",
                      "Sample efficiency (dev suite, 95% CIs)", ylabel="IQM normalised score")


def _per_task(stem: Path, ranking: Ranking, tasks: dict[str, Task], styles: Styles,
              regret: bool) -> list[Path]:
    """Per task, each submission's mean over its successful runs (incomplete ones too) of
    the binned normalised return, or of the cumulative regret at the end of each bin."""
    entries = [r.entry for r in ranking.ranked] + ranking.incomplete
    x = 100 * np.arange(1, CURVE_POINTS + 1) / CURVE_POINTS
    panels: dict[str, dict] = {t: {} for t in entries[0].tasks}
    for e in entries:
        by_task: dict[str, list[np.ndarray]] = {}
        for record in (r for r in e.records if r["status"] == "ok"):
            task = tasks[record["task"]["id"]]
            by_task.setdefault(task.id, []).append(
                _regret(record, task, CURVE_POINTS) if regret
                else binned_returns(record, task, "returns", CURVE_POINTS))
        for task, curves in by_task.items():
            panels[task][e.name] = (x if regret else x - 50 / CURVE_POINTS,
                                    np.mean(curves, axis=0))
    ylabel = "cumulative regret" if regret else "normalised return"
    return draw.small_multiples(stem, panels, styles, "% of the episode budget", ylabel,
                                "Cumulative regret Σ(V* − G_k), mean over seeds (dev suite)"
                                if regret else "Learning curves, mean over seeds (dev suite)",
                                marked=[e.name for e in ranking.incomplete])


def _regret(record: dict, task: Task, points: int) -> np.ndarray:
    """Cumulative regret sum_k (V* - G_k) at the end of each of ``points`` bins, V* the
    best expected return of an episode (``Task.return_bounds``: the H-step value on a
    discounted task, as the stored ``cumulative_regret``)."""
    returns = np.asarray(record["result"]["episodes"]["returns"])
    cumulative = np.cumsum(task.return_bounds[0] - returns)
    ends = np.ceil(np.linspace(0, len(returns), points + 1)[1:]).astype(int) - 1
    return cumulative[np.maximum(ends, 0)]


def _episodes_to_solve(stem: Path, ranking: Ranking, tasks: dict[str, Task], styles: Styles
                       ) -> list[Path]:
    values = {}
    for r in ranking.ranked:
        runs = [100 * np.array(v, dtype=float) / budget
                for budget, v in threshold_episodes(r.entry, tasks).values()]
        flat = np.concatenate(runs)
        values[r.entry.name] = np.where(flat > 100, np.inf, flat)
    return draw.ecdf(stem, values, styles, "episodes to threshold (% of the episode budget)",
                     "Episodes to threshold, all tasks and seeds (dev suite)")


def _offline_sizes(stem: Path, ranking: Ranking, bootstrap: scoring.BootstrapConfig,
                   styles: Styles) -> list[Path]:
    """Per behaviour epsilon, each entry's IQM over tasks (and seeds) at each dataset size,
    on the sizes and epsilons every ranked run has."""
    runs = [rec["result"]["cells"] for r in ranking.ranked for rec in r.entry.records]
    sizes = sorted(set.intersection(*[{c["dataset_episodes"] for c in run} for run in runs]))
    epsilons = sorted(set.intersection(*[{c["epsilon"] for c in run} for run in runs]),
                      reverse=True)
    panels = []
    for eps in epsilons:
        curves = {}
        for r in ranking.ranked:
            iqms = [scoring.iqm_with_ci(offline_matrix(r.entry, n, eps), bootstrap, stream_id(
                "offline", r.entry.name, str(n), f"eps={eps:g}")) for n in sizes]
            curves[r.entry.name] = (np.array(sizes), *np.array(iqms).T)
        label = "uniform random" if eps == 1.0 else f"ε = {eps:g}"
        panels.append((f"behaviour: {label}", curves))
    return draw.bands(stem, panels, styles, "dataset size (episodes)",
                      "Offline IQM by dataset size and behaviour (dev suite, 95% CIs)",
                      xscale="log", ylabel="IQM normalised value")
