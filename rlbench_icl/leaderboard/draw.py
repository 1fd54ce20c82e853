"""Drawing primitives of the leaderboard's figures (matplotlib, Agg), each a pure function of
its arrays, the submissions' ``Style``s and a file stem; ``save`` writes PNG, PDF and SVG with
no timestamp and no library version, so the same arrays give the same bytes.

Why plain matplotlib and not ``rliable.plot_utils``, whose interval-estimate,
probability-of-improvement and profile plots these follow: rliable is not a runtime
dependency (only the test extra pins it, for the bootstrap's parity test, since 1.2.0 breaks
with pandas 3 and arch 8), its ``plot_utils`` imports seaborn, and it colours by a palette
argument but has no per-submission marker, line style or hollow user marker, nor a legend
outside the axes. The look is rliable's: horizontal CI bars with a tick at the point.

Legends sit outside the axes (``fig.legend(loc="outside ...")`` with constrained layout).
Importing this module selects matplotlib's Agg backend, so the leaderboard imports it only
when it draws.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, MaxNLocator  # noqa: E402

from .style import Style  # noqa: E402

FORMATS = ("png", "pdf", "svg")
"""In the order ``save`` writes them: the PNG's draw solves the layout the others keep."""
METADATA = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
    "svg": {"Date": None, "Creator": None},
}
"""No timestamp and no library version in any file: same data, same bytes."""
RC = {"svg.hashsalt": "rlbench-icl", "font.size": 9, "axes.titlesize": 9,
      "legend.fontsize": 8, "axes.spines.top": False, "axes.spines.right": False,
      # paper-ready: TrueType (Type 42) fonts in PDFs, which publishers accept and Type 3
      # fonts are not; SVG text stays text (editable, searchable, smaller and faster)
      "pdf.fonttype": 42, "svg.fonttype": "none",
      # titles sit on their axes (no tick labels on top); left to matplotlib, every draw
      # measures each axes' y axis to check that: a quarter of the small multiples' drawing
      "axes.titley": 1.0}
DPI = 120
MARKERS_PER_LINE = 6
HEATMAP = "cividis"  # perceptually uniform and readable with colour-vision deficiencies


def styled(draw):
    """Run a drawing function under ``RC`` (some settings are read when an artist is made,
    ``svg.hashsalt`` when the file is written)."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(RC):
            return draw(*args, **kwargs)
    return wrapper


def save(fig, stem: Path) -> list[Path]:
    """``stem.png``, ``.pdf`` and ``.svg``; closes the figure."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(f".{ext}") for ext in FORMATS]
    # the PNG from the canvas itself: savefig would first draw the whole figure with output
    # disabled only to solve its layout, which this one draw solves on its way (of what
    # savefig sets around the draw, only the dpi differs from the figure's own state)
    dpi, fig.dpi = fig.dpi, DPI
    fig.canvas.print_png(paths[0], metadata=METADATA["png"])
    fig.dpi = dpi
    # the layout found for the PNG holds for the others (positions are relative to the
    # figure): keep it instead of solving it again; no engine at all, since with any (even
    # "none") savefig draws the figure twice
    fig.set_layout_engine(None)
    for path in paths[1:]:
        fig.savefig(path, dpi=DPI, metadata=METADATA[path.suffix[1:]])
    plt.close(fig)
    return paths


def figure(width: float, height: float):
    return plt.figure(figsize=(width, height), layout="constrained")


def legend(fig, names: Sequence[str], styles: dict[str, Style], title: str | None = None,
           line: bool = True) -> None:
    """One legend for the figure, outside the axes on the right."""
    handles = [Line2D([], [], color=styles[n].colour, marker=styles[n].marker,
                      markerfacecolor=styles[n].face, linestyle=styles[n].line if line
                      else "none", label=styles[n].label(n)) for n in names]
    fig.legend(handles=handles, loc="outside right upper", title=title, frameon=False)


def _line(ax, x, y, style: Style, **kwargs) -> None:
    ax.plot(x, y, color=style.colour, linestyle=style.line, marker=style.marker,
            markerfacecolor=style.face, markersize=4, linewidth=1.4,
            markevery=max(1, len(x) // MARKERS_PER_LINE), **kwargs)


@styled
def bands(stem: Path, panels: list[tuple[str, dict[str, tuple]]], styles: dict[str, Style],
          xlabel: str, title: str, xscale: str = "linear", ylabel: str | None = None
          ) -> list[Path]:
    """One panel per ``(ylabel, {name: (x, point, lo, hi)})``, a line with a shaded CI band
    per submission; one legend for all."""
    names = list(dict.fromkeys(n for _, curves in panels for n in curves))
    fig = figure(3.6 * len(panels) + 1.8, 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, curves) in zip(axes, panels, strict=True):
        for name, (x, point, lo, hi) in curves.items():
            _line(ax, x, point, styles[name])
            ax.fill_between(x, lo, hi, color=styles[name].colour, alpha=0.15, linewidth=0)
        ax.set(xlabel=xlabel, ylabel=ylabel or label, xscale=xscale)
        if ylabel:
            ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    legend(fig, names, styles)
    return save(fig, stem)


@styled
def intervals(stem: Path, metrics: dict[str, dict[str, tuple[float, float, float]]],
              styles: dict[str, Style], title: str, xlabel: str = "normalised score",
              reference: float | None = None) -> list[Path]:
    """rliable's interval-estimate plot: one panel per metric, one row per submission (the
    first metric's order, best on top), a bar from low to high and a tick at the point."""
    names = list(next(iter(metrics.values())))
    fig = figure(max(6.4, 2.3 * len(metrics) + 1.6), 0.32 * len(names) + 1.2)
    axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True)[0]
    y = np.arange(len(names))[::-1]
    for ax, (metric, values) in zip(axes, metrics.items(), strict=True):
        for row, name in zip(y, names, strict=True):
            point, lo, hi = values[name]
            s = styles[name]
            ax.barh(row, hi - lo, left=lo, height=0.6, color=s.colour, alpha=0.75,
                    edgecolor=s.colour, hatch=None if s.reference else "///",
                    fill=s.reference)
            ax.vlines(point, row - 0.3, row + 0.3, color="black", linewidth=1.2)
        if reference is not None:
            ax.axvline(reference, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(metric)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
        ax.set_yticks(y, [styles[n].label(n) for n in names])
    fig.suptitle(title)
    return save(fig, stem)


@styled
def small_multiples(stem: Path, panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
                    styles: dict[str, Style], xlabel: str, ylabel: str, title: str,
                    marked: Sequence[str] = ()) -> list[Path]:
    """One small panel per key of ``panels`` (e.g. a task), a line ``(x, y)`` per submission;
    names in ``marked`` get "(incomplete)" in the legend. A fixed grid, not a solved layout:
    constrained layout over dozens of axes took most of the figure set's time."""
    names = list(dict.fromkeys(n for curves in panels.values() for n in curves))
    columns = min(6, len(panels))
    rows = -(-len(panels) // columns)
    width, height, legend_width = 2.0 * columns + 0.7, 1.45 * rows + 1.0, 2.0
    fig = plt.figure(figsize=(width + legend_width, height))
    axes = _grid_axes(fig, len(panels), columns, left=0.6 / (width + legend_width),
                      right=width / (width + legend_width), bottom=0.5 / height,
                      top=1 - 0.5 / height, wspace=0.35, hspace=0.5)
    for ax, (key, curves) in zip(axes, panels.items(), strict=True):
        for name, (x, y) in curves.items():
            ax.plot(x, y, color=styles[name].colour, linestyle=styles[name].line,
                    linewidth=1.0)
        ax.set_title(key, fontsize=7, pad=2)
        ax.tick_params(labelsize=6, length=2, pad=1)
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.xaxis.set_major_locator(FixedLocator([0, 50, 100]))
    fig.text(0.5 * width / (width + legend_width), 0.1 / height, xlabel, ha="center")
    fig.text(0.1 / (width + legend_width), 0.5, ylabel, rotation=90, va="center")
    fig.suptitle(title, x=0.5 * width / (width + legend_width))
    handles = [Line2D([], [], color=styles[n].colour, linestyle=styles[n].line,
                      label=styles[n].label(n) + (" (incomplete)" if n in marked else ""))
               for n in names]
    fig.legend(handles=handles, loc="upper left", frameon=False,
               bbox_to_anchor=(width / (width + legend_width) + 0.01, 1 - 0.5 / height))
    return save(fig, stem)


def _grid_axes(fig, count: int, columns: int, **gridspec) -> list:
    """``count`` axes filling a grid of ``columns`` row by row, x tick labels on the last
    row only, no axis labels. The x axes are not shared (every panel has the same x, so
    the same limits): matplotlib checks every shared sibling each time an axes' limits are
    read. The (empty) axis labels get a fixed place: placing them, matplotlib would measure
    every tick label again at each draw."""
    rows = -(-count // columns)
    grid = fig.add_gridspec(rows, columns, **gridspec)
    axes = [fig.add_subplot(grid[i // columns, i % columns]) for i in range(count)]
    for ax in axes:
        ax.xaxis.set_label_coords(0.5, 0.0)
        ax.yaxis.set_label_coords(0.0, 0.5)
    for ax in axes[:(rows - 1) * columns]:
        ax.tick_params(axis="x", which="both", labelbottom=False)
    return axes


@styled
def heatmap(stem: Path, rows: list[str], names: list[str], mean: np.ndarray,
            spread: np.ndarray, styles: dict[str, Style], title: str,
            marked: Sequence[str] = ()) -> list[Path]:
    """``mean`` (rows, names) as colours (NaN: no run, hatched grey), each cell annotated
    with its mean and ``± spread`` (the standard deviation over seeds)."""
    fig = figure(0.75 * len(names) + 2.6, 0.3 * len(rows) + 1.6)
    ax = fig.subplots()
    ax.set_facecolor("#dddddd")
    image = ax.imshow(np.ma.masked_invalid(mean), cmap=HEATMAP, vmin=0.0, vmax=1.0,
                      aspect="auto")
    _annotate(ax, mean, spread)
    labels = [styles[n].label(n) + (" (incomplete)" if n in marked else "") for n in names]
    ax.set_xticks(range(len(names)), labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.6, label="mean score")
    return save(fig, stem)


def _annotate(ax, mean: np.ndarray, spread: np.ndarray) -> None:
    """Each finite cell's mean and ``± spread``, left out of the layout: inside the axes
    they cannot widen it, and constrained layout would measure every one of them."""
    for i, j in zip(*np.nonzero(np.isfinite(mean)), strict=True):
        ax.text(j, i, f"{mean[i, j]:.2f}\n±{spread[i, j]:.2f}", ha="center", va="center",
                fontsize=5, color="white" if mean[i, j] < 0.6 else "black", in_layout=False)


@styled
def ecdf(stem: Path, values: dict[str, np.ndarray], styles: dict[str, Style], xlabel: str,
         title: str) -> list[Path]:
    """The empirical CDF of each submission's values; infinite values (never reached) keep
    the curve below 1."""
    fig = figure(6.4, 3.6)
    ax = fig.subplots()
    for name, v in values.items():
        finite = np.sort(v[np.isfinite(v)])
        x = np.concatenate([[0.0], finite, [100.0]])
        y = np.concatenate([[0.0], np.arange(1, len(finite) + 1), [len(finite)]]) / len(v)
        ax.step(x, y, where="post", color=styles[name].colour, linestyle=styles[name].line,
                linewidth=1.4)
    ax.set(xlabel=xlabel, ylabel="fraction of runs", ylim=(0, 1.02), xlim=(0, 100))
    ax.grid(alpha=0.3)
    ax.set_title(title)
    legend(fig, list(values), styles)
    return save(fig, stem)
