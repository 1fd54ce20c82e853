"""Do the runs of one results directory reproduce those of another? For every result file of
NEW, the matching file of OLD (``.json`` or ``.json.gz``) must hold the same ``result``,
``task``, ``settings``, ``seed`` and ``status``; the header fields that record how a run was
made (``isolation``, ``code``, ``harness_version``) and the frozen-state certificate (new in
0.2.0) are left out. Used to check that sealed re-runs give the in-process 0.1.0 records.
A file whose fields all lie within 1e-9 of OLD's counts as "ulps only" (exact values moved
by their last bits); one with any other difference is DIFFERENT, and its first differing
fields are named.

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


def differences(a, b, where: str = ""):
    """(path, a's value, b's value) of every leaf where two records differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from differences(a.get(key), b.get(key), f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for x, y in zip(a, b, strict=True):
            yield from differences(x, y, f"{where}[]")
    elif a != b:
        yield where, a, b


def ulps_apart(x, y) -> bool:
    """Numbers within 1e-9 (relative, above 1): a task's exact value moved by its last bits
    (0.2.0 computes them without BLAS) and every score derived from it."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
    return numbers and abs(x - y) <= 1e-9 * max(1.0, abs(x))


def main(new: Path, old: Path) -> int:
    counts: Counter = Counter()
    for path in sorted(new.rglob("seed-*.json*")):
        rel = path.relative_to(new).as_posix().removesuffix(".gz")
        twin = next((p for p in (old / rel, old / f"{rel}.gz") if p.exists()), None)
        name = rel.split("/")[0]
        if twin is None:
            counts[(name, "absent in OLD")] += 1
        elif (a := comparable(store.read_result(path))) == (b := comparable(
                store.read_result(twin))):
            counts[(name, "same")] += 1
        else:
            real = sorted({where for where, x, y in differences(a, b) if not ulps_apart(x, y)})
            counts[(name, "DIFFERENT" if real else "ulps only")] += 1
            print(f"different: {rel}" + (f" ({', '.join(real[:3])})" if real else " (ulps)"))
    for (name, verdict), count in sorted(counts.items()):
        print(f"{name:20s} {verdict:14s} {count}")
    return 1 if any(v == "DIFFERENT" for _, v in counts) else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
