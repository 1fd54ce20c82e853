#!/usr/bin/env bash
# Train (or resume) the three declared scales of gnn-fm-paper in order, one thread each.
# Re-running resumes every unfinished run from its last checkpoint (every 5 steps).
set -euo pipefail
cd "$(dirname "$0")"
for width in 64 128 256; do
    rlbench-icl train-fm --config "w$width.toml" --out "runs/w$width" --seed 0 --quiet
done
