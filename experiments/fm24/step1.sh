#!/usr/bin/env bash
# The twenty-fourth attempt's step 1 (experiments/tune_fm.md): the sixteenth network at five
# temperatures on MDPs 2400-2463 of `gaps` and `default`, seed 0, 300 episodes. Tables and
# every run's score in step1/; a stopped run resumes from its --runs file.
set -euo pipefail
cd "$(dirname "$0")/../.."
for suite in gaps default; do
  out=experiments/fm24/step1/temperature24-$suite
  [ -s "$out.txt" ] && continue
  OMP_NUM_THREADS=1 python experiments/tune_fm.py --checkpoint experiments/fm16/run \
    --sweep temperature24 --suite "$suite" --first 2400 --mdps 64 --seeds 1 --episodes 300 \
    --against 0 --runs "$out.csv" --jobs "${JOBS:-1}" > "$out.txt.part"
  mv "$out.txt.part" "$out.txt"
done
