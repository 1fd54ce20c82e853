"""What ``rlbench-icl run`` prints after a grid: per-cell means, per-protocol IQM, and what is
still missing for a leaderboard ranking."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import scoring, store
from ..protocols import SCORE_KEY


def summary_rows(records: Sequence[dict]) -> tuple[list[list], dict[str, float]]:
    """Per (protocol, task): runs, failures, mean score and its standard error; and the IQM
    of all successful run scores per protocol."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["protocol"], r["task"]["id"]), []).append(r)
    rows, by_protocol = [], {}
    for (protocol, task_id), group in sorted(groups.items()):
        scores = [r["result"]["scores"][SCORE_KEY[protocol]] for r in group
                  if r["status"] == "ok"]
        by_protocol.setdefault(protocol, []).extend(scores)
        mean = float(np.mean(scores)) if scores else float("nan")
        se = float(np.std(scores, ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else 0.0
        rows.append([protocol, task_id, len(group), len(group) - len(scores), mean, se])
    iqm = {p: float(scoring.iqm(np.array(s)[:, None])) for p, s in by_protocol.items() if s}
    return rows, iqm


def missing_for_ranking(registry, out_dir: Path, submission: str, protocols: Sequence[str]
                        ) -> list[dict]:
    """For each declared suite (``dev``, ``test``) and protocol: how many runs of the
    leaderboard's ranking grid (every suite task, seeds ``0..seeds-1``) have no stored
    result under ``out_dir``, with an example, and the command that adds them."""
    missing = []
    for name in registry.suites:
        tasks, seeds = registry.ranking_grid(name)
        for protocol in protocols:
            absent = [(t, s) for t in tasks for s in range(seeds)
                      if not _stored(out_dir, submission, protocol, t, s)]
            if absent:
                missing.append({
                    "suite": name, "protocol": protocol, "missing": len(absent),
                    "of": len(tasks) * seeds,
                    "example": f"{absent[0][0]} seed {absent[0][1]}",
                    "command": f"--tasks {name} --seeds {seeds} --protocol {protocol}"})
    return missing


def _stored(out_dir: Path, submission: str, protocol: str, task_id: str, seed: int) -> bool:
    path = store.result_path(out_dir, submission, protocol, task_id, seed)
    return path.exists() or path.with_name(path.name + ".gz").exists()
