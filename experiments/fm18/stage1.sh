#!/usr/bin/env bash
# The eighteenth attempt's score half (experiments/tune_fm.md): release 6 and f = 4 paired
# on MDPs 64-319 of the three tuning suites, seed 0, 300 episodes. Tables and every run's
# score in stage1/.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p experiments/fm18/stage1
for suite in gaps default explore; do
  out=experiments/fm18/stage1/refresh18-$suite
  [ -s "$out.txt" ] && continue
  OMP_NUM_THREADS=1 python experiments/tune_fm.py --sweep refresh18 --suite "$suite" \
    --first 64 --mdps 256 --seeds 1 --episodes 300 --against 0 --runs "$out.csv" \
    --jobs "${JOBS:-2}" > "$out.txt.part"
  mv "$out.txt.part" "$out.txt"
done
