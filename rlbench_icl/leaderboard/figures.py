"""The leaderboard's figures (matplotlib, Agg): deterministic PNGs with no timestamp metadata.

Importing this module selects matplotlib's Agg backend, so the leaderboard imports it only
when it draws.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .. import scoring  # noqa: E402
from ..tasks import Task  # noqa: E402
from .entries import Ranked, curve_array, stream_id  # noqa: E402

PNG_METADATA = {"Software": None}  # no library version stamp: same data, same bytes
CURVE_POINTS = 50
PROFILE_THRESHOLDS = np.linspace(0.0, 1.0, 41)


def write_figures(out: Path, protocol: str, ranked: list[Ranked],
                  bootstrap: scoring.BootstrapConfig, tasks: dict[str, Task]) -> None:
    """Performance profiles, probability of improvement and per-task means of a protocol,
    and on the online protocol the sample-efficiency curves; nothing if none is ranked."""
    if not ranked:
        return
    profiles = {r.entry.name: (PROFILE_THRESHOLDS, *scoring.performance_profile(
        r.matrix, PROFILE_THRESHOLDS, bootstrap, stream_id(protocol, r.entry.name, "profile")))
        for r in ranked}
    plot_bands(out / f"{protocol}_performance_profiles.png", profiles,
               "normalised score threshold τ", "fraction of runs with score > τ",
               f"Performance profiles ({protocol}, 95% CIs)")
    names = [r.entry.name for r in ranked]
    matrix = np.array([[scoring.probability_of_improvement(x.matrix, y.matrix) if x is not y
                        else np.nan for y in ranked] for x in ranked], dtype=float)
    plot_matrix(out / f"{protocol}_probability_of_improvement.png", names, matrix,
                f"P(row > column), {protocol}")
    plot_per_task(out / f"{protocol}_per_task.png", ranked[0].entry.tasks,
                  {r.entry.name: r.matrix.mean(axis=0) for r in ranked},
                  f"Per-task mean normalised score ({protocol})")
    if protocol == "online":
        _write_curves(out, ranked, bootstrap, tasks)


def _write_curves(out: Path, ranked: list[Ranked], bootstrap: scoring.BootstrapConfig,
                  tasks: dict[str, Task]) -> None:
    """IQM over runs and tasks of the normalised returns and of the exploitation policy's
    value along the budget; entries that did not record a quantity are left out of it."""
    x = np.linspace(0.0, 1.0, CURVE_POINTS, endpoint=False)
    for key, label, filename in [
            ("returns", "IQM normalised return", "online_sample_efficiency.png"),
            ("policy_values", "IQM normalised value of the exploitation policy",
             "online_policy_curves.png")]:
        curves = {}
        for r in ranked:
            arrays = curve_array(r.entry, key, x, tasks)
            if arrays is not None:
                curves[r.entry.name] = (100 * x, *scoring.iqm_curve(
                    arrays, bootstrap, stream_id("online", r.entry.name, key)))
        if curves:
            plot_bands(out / filename, curves, "% of the episode budget", label,
                       f"{label} (95% CIs)")


def plot_offline_sizes(out: Path, ranked: list[Ranked], sizes: list[int],
                       iqms: list[list[tuple[float, float, float]]]) -> None:
    """``offline_by_dataset_size.png`` from ``entries.offline_size_iqms``."""
    bands = {r.entry.name: (np.array(sizes), *np.array(values).T)
             for r, values in zip(ranked, iqms, strict=True)}
    plot_bands(out / "offline_by_dataset_size.png", bands, "dataset size (episodes)",
               "IQM normalised value", "Offline IQM by dataset size (95% CIs)", xscale="log")


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata=PNG_METADATA)
    plt.close(fig)


def plot_bands(path: Path, curves: dict[str, tuple], xlabel: str, ylabel: str, title: str,
               xscale: str = "linear") -> None:
    """One line with a shaded CI band per submission: ``{name: (x, point, lo, hi)}``."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, (x, point, lo, hi) in curves.items():
        (line,) = ax.plot(x, point, label=name, linewidth=1.8)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xscale=xscale)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    _save(fig, path)


def plot_matrix(path: Path, names: list[str], matrix: np.ndarray, title: str) -> None:
    """P(row > column) heat map."""
    fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(names), 1.0 + 0.7 * len(names)))
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="RdBu")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for i in range(len(names)):
        for j in range(len(names)):
            if i != j:
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
    _save(fig, path)


def plot_per_task(path: Path, tasks: list[str], means: dict[str, np.ndarray],
                  title: str) -> None:
    """Grouped horizontal bars: mean normalised score per task and submission."""
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(tasks) * max(1, len(means)) ** 0.5 + 1.5))
    height = 0.8 / max(1, len(means))
    y = np.arange(len(tasks))
    for k, (name, values) in enumerate(means.items()):
        ax.barh(y + k * height, values, height=height, label=name)
    ax.set_yticks(y + 0.4 - height / 2, tasks, fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.axvline(1, color="grey", linewidth=0.8, linestyle="--")
    ax.set(xlabel="mean normalised score (1 = optimal, 0 = random)", title=title)
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="lower right")
    _save(fig, path)
