#!/usr/bin/env bash
# The twenty-fifth attempt's steps (experiments/tune_fm.md, "The twenty-fifth attempt,
# planned"), one thread, release 6.1 before the candidate on each suite. `steps.sh 1`: step 1
# (the candidate at all five temperatures; waits for its training to export
# run/model.safetensors). `steps.sh 2 ROW`: step 2 at the temperature row `decide.py step1`
# chose, online suite by suite (gaps, default, explore; after each, `decide.py step2`
# applies the rule so far), then offline. Exits with decide.py's code: 0 go on, 1 the
# attempt stops, 2 a record is missing or not as declared. Every run's score goes to
# step<N>/<who>-<sweep>-<suite>.csv as it finishes (the candidate's step-2 online files
# name its row: candidate-row<R>-...; re-running resumes); a finished table is the .txt
# beside it.
set -euo pipefail
cd "$(dirname "$0")/../.."
step=${1:-} row=${2:-}
case "$step" in
  1) row=0,1,2,3,4 ;;
  2) [[ "$row" =~ ^[0-4]$ ]] || { echo "steps.sh 2 needs the one row decide.py step1 chose" \
       "(0-4), got '$row'" >&2; exit 2; } ;;
  *) echo "usage: steps.sh 1 | steps.sh 2 ROW" >&2; exit 2 ;;
esac
mkdir -p "experiments/fm25/step$step"
run() {  # who sweep suite first mdps seeds
  local name=$1 ckpt=submissions/gnn_fm_checkpoint rows=0
  if [ "$1" = candidate ]; then
    ckpt=experiments/fm25/run rows=$row
    [ "$step" = 2 ] && [ "$2" = temperature24 ] && name=candidate-row$row
    while [ ! -f "$ckpt/model.safetensors" ]; do sleep 60; done
  fi
  [ "$2" = temperature24 ] || rows=0  # the offline sweep has one row
  local out="experiments/fm25/step$step/$name-$2-$3"
  [ -s "$out.txt" ] && return 0
  OMP_NUM_THREADS=1 python experiments/tune_fm.py --checkpoint "$ckpt" --sweep "$2" \
    --suite "$3" --first "$4" --mdps "$5" --seeds "$6" --episodes 300 --jobs 1 \
    --rows "$rows" --runs "$out.csv" > "$out.txt.part"
  mv "$out.txt.part" "$out.txt"
}
if [ "$step" = 1 ]; then
  for who in release candidate; do
    for suite in gaps default; do run "$who" temperature24 "$suite" 2800 64 1; done
  done
  exec python experiments/fm25/decide.py step1
fi
for suite in gaps default explore; do
  for who in release candidate; do run "$who" temperature24 "$suite" 2900 256 1; done
  python experiments/fm25/decide.py step2 --row "$row" --upto "$suite" || exit $?
done
for suite in default gaps; do
  for who in release candidate; do run "$who" shipped-offline "$suite" 2900 64 3; done
done
exec python experiments/fm25/decide.py step2 --row "$row" --upto offline
