#!/usr/bin/env bash
# The seventeenth attempt's score half (experiments/tune_fm.md): the refresh17 sweep on the
# three synthetic tuning suites, 64 MDPs, 3 seeds, 300 episodes. Tables in stage1/.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p experiments/fm17/stage1
for suite in default explore gaps; do
  out=experiments/fm17/stage1/refresh17-$suite.txt
  [ -s "$out" ] && continue
  OMP_NUM_THREADS=1 python experiments/tune_fm.py --sweep refresh17 --suite "$suite" \
    --mdps 64 --seeds 3 --episodes 300 --jobs "${JOBS:-2}" > "$out.part"
  mv "$out.part" "$out"
done
