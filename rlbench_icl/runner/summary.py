"""The numbers ``rlbench-icl run`` prints after a grid: per-cell means and per-protocol IQM."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

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
    iqm = {p: float(stats.trim_mean(s, 0.25)) for p, s in by_protocol.items() if s}
    return rows, iqm
