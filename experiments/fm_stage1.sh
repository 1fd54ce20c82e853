#!/usr/bin/env bash
# A tuning attempt's synthetic stage (experiments/tune_fm.md): its network against release 6's
# setting on the sixteenth attempt's MDPs and seeds (64 MDPs, 3 seeds, 300 episodes), tables
# into DIR/stage1/; release 6's tables are experiments/fm16/stage1/release6-*. Re-running
# skips finished tables; it waits for the training to export DIR/run/model.safetensors.
#   fm_stage1.sh DIR "OFFLINE SUITES"    (JOBS=2 runs two at a time)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
dir=$1
ckpt=$dir/run
while [ ! -f "$ckpt/model.safetensors" ]; do sleep 60; done
mkdir -p "$dir/stage1"
run() {  # sweep suite
    local out="$dir/stage1/candidate-$1-$2.txt"
    [ -s "$out" ] && return 0
    python experiments/tune_fm.py --checkpoint "$ckpt" --sweep "$1" --suite "$2" --mdps 64 \
        --seeds 3 --episodes 300 --jobs "${JOBS:-1}" > "$out.part" 2> /dev/null && mv "$out.part" "$out"
}
for suite in gaps default explore; do run shipped "$suite"; done
for suite in $2; do run shipped-offline "$suite"; done
