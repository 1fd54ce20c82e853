"""Do the runs of one results directory reproduce those of another? For every result file of
NEW, the matching file of OLD (``.json`` or ``.json.gz``) must hold the same ``result``,
``task``, ``settings``, ``seed`` and ``status``; the header fields that record how a run was
made (``isolation``, ``code``, ``harness_version``) and the frozen-state certificate (new in
0.2.0) are left out. Used to check that sealed re-runs give the in-process 0.1.0 records.

Usage: python experiments/compare_records.py NEW OLD
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from rlbench_icl import store

FIELDS = ("result", "task", "settings", "seed", "status")


def comparable(record: dict) -> dict:
    kept = {k: record[k] for k in FIELDS}
    kept["result"] = {k: v for k, v in (kept["result"] or {}).items() if k != "frozen_state"}
    return kept


def main(new: Path, old: Path) -> int:
    counts: Counter = Counter()
    for path in sorted(new.rglob("seed-*.json*")):
        rel = path.relative_to(new).as_posix().removesuffix(".gz")
        twin = next((p for p in (old / rel, old / f"{rel}.gz") if p.exists()), None)
        name = rel.split("/")[0]
        if twin is None:
            counts[(name, "absent in OLD")] += 1
        elif comparable(store.read_result(path)) == comparable(store.read_result(twin)):
            counts[(name, "same")] += 1
        else:
            counts[(name, "DIFFERENT")] += 1
            print(f"different: {rel}")
    for (name, verdict), count in sorted(counts.items()):
        print(f"{name:20s} {verdict:14s} {count}")
    return 1 if any(v == "DIFFERENT" for _, v in counts) else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
