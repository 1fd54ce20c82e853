#!/usr/bin/env bash
# After the twenty-fifth attempt stopped (experiments/tune_fm.md): a diagnostic that decides
# nothing, the candidate at beta 0 (tune_fm.py --sweep posterior25, T = 0.1 and 1) on step 1's
# MDPs (2800-2863 of `gaps` and `default`, seed 0, 300 episodes), into after/.
set -euo pipefail
cd "$(dirname "$0")/../.."
for suite in gaps default; do
  out=experiments/fm25/after/posterior25-$suite
  [ -s "$out.txt" ] && continue
  OMP_NUM_THREADS=1 python experiments/tune_fm.py --checkpoint experiments/fm25/run \
    --sweep posterior25 --suite "$suite" --first 2800 --mdps 64 --seeds 1 --episodes 300 \
    --jobs 1 --runs "$out.csv" > "$out.txt.part"
  mv "$out.txt.part" "$out.txt"
done
