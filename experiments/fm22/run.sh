#!/usr/bin/env bash
# The twenty-second attempt (experiments/tune_fm.md): step 1 chooses tau on MDPs 64-95 of
# each suite (the gate22 sweep: tau = 0, 0.6, 0.8, 0.9), step 2 (`run.sh stage1`) plays the
# chosen tau (the gate22-stage1 sweep) on the twenty-first's stage-1 MDPs and seeds. One thread; tables go
# to experiments/fm22/ (errors and progress to NAME.log); every run is kept in a --runs
# file, so a stopped table resumes.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
ckpt=experiments/fm21/run
out=experiments/fm22
table() {  # name suite sweep-arguments...
    local file="$out/$1-$2.txt" suite=$2
    shift 2
    [ -s "$file" ] && return 0
    python experiments/tune_fm.py --checkpoint "$ckpt" --suite "$suite" --episodes 300 \
        --jobs 1 --runs "$file.runs" "$@" > "$file.part" 2> "$file.log" && mv "$file.part" "$file"
}
if [ "${1:-}" = stage1 ]; then
    for suite in gaps default explore; do
        table stage1 "$suite" --sweep gate22-stage1 --mdps 64 --seeds 3
    done
else
    for suite in gaps default explore; do
        table choose "$suite" --sweep gate22 --first 64 --mdps 32 --seeds 2
    done
fi
