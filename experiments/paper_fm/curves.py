"""Validation against training compute for gnn-fm-paper's three declared scales: the mean
and median exact normalised value of the greedy policy on the trainer's validation stream
(256 MDPs of the paper's prior, never a benchmark task), against the synthetic MDPs seen,
beside the plug-in policy of the same contexts (the network's inputs alone) and the paper's
budget. Reads the committed training logs; writes curves.png, .pdf and .svg here.

    python experiments/paper_fm/curves.py

Single readings swing by about +-0.03 between neighbours (README.md here), so each scale
is drawn as its readings (thin) and their running mean over 5 readings (thick).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rlbench_icl.fm.train import load_config
from rlbench_icl.leaderboard.draw import figure, save, styled

HERE = Path(__file__).resolve().parent
RUNS = {  # width: (its log, its training config), as committed between sessions
    64: (HERE / "progress/w64/train_log.jsonl", HERE / "w64.toml"),
    128: (HERE / "progress/w128/train_log.jsonl", HERE / "w128.toml"),
    256: (HERE / "progress/w256/train_log.jsonl", HERE / "w256.toml"),
}
PAPER = load_config(HERE / "paper.toml")  # the paper's own budget: its steps of its batch
PLUG_IN = {"val_normalised_value": 0.420, "val_median_normalised_value": 0.828}
"""The plug-in policy of the same validation contexts (README.md here, "Results";
``experiments/validate_fm.py``)."""
PANELS = (("val_normalised_value", "mean"), ("val_median_normalised_value", "median"))


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def running_mean(values: np.ndarray, window: int = 5) -> np.ndarray:
    """The mean of each reading and up to ``window - 1`` before it."""
    sums = np.cumsum(np.concatenate([[0.0], values]))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


@styled
def draw(logs: dict[str, list[dict]], stem: Path, batch_size: int = PAPER.batch_size
         ) -> list[Path]:
    fig = figure(8.0, 3.2)
    axes = fig.subplots(1, 2, sharex=True)
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        for i, (name, log) in enumerate(logs.items()):
            x = np.array([r["step"] for r in log]) * batch_size
            y = np.array([r[key] for r in log])
            colour = f"C{i}"
            ax.plot(x, y, color=colour, lw=0.6, alpha=0.5)
            ax.plot(x, running_mean(y), color=colour, lw=1.8, label=name)
        ax.axhline(PLUG_IN[key], color="0.3", ls="--", lw=1, label="plug-in (its inputs)")
        ax.axvline(PAPER.steps * PAPER.batch_size, color="0.6", ls=":", lw=1,
                   label="the paper's budget")
        ax.set_xscale("log")
        ax.set_xlabel("synthetic MDPs seen in training")
        ax.set_title(f"validation {label} normalised value (greedy)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center")
    return save(fig, stem)


def main() -> None:
    logs = {}
    for width, (path, config) in RUNS.items():
        log, steps = read_log(path), load_config(config).steps
        logs[f"width {width} ({log[-1]['step']:,} of {steps:,} steps)"] = log
    for path in draw(logs, HERE / "curves"):
        print(f"wrote {path.relative_to(HERE.parents[1])}")


if __name__ == "__main__":
    main()
