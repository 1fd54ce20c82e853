"""Leaderboard figures (matplotlib, Agg): deterministic PNGs with no timestamp metadata."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PNG_METADATA = {"Software": None}  # no library version stamp: same data, same bytes


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
