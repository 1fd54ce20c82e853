#!/usr/bin/env bash
# The twenty-third attempt's synthetic stage (experiments/tune_fm.md): the candidate on the
# sixteenth attempt's MDPs and seeds, one thread, tables into stage1/; release 6's tables are
# experiments/fm16/stage1/release6-*. Re-running skips finished tables; it waits for the
# training to export run/model.safetensors. JOBS=2 runs two at a time.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
ckpt=experiments/fm23/run
while [ ! -f "$ckpt/model.safetensors" ]; do sleep 60; done
mkdir -p experiments/fm23/stage1
run() {  # sweep suite
    local out="experiments/fm23/stage1/candidate-$1-$2.txt"
    [ -s "$out" ] && return 0
    python experiments/tune_fm.py --checkpoint "$ckpt" --sweep "$1" --suite "$2" --mdps 64 \
        --seeds 3 --episodes 300 --jobs "${JOBS:-1}" > "$out.part" 2> /dev/null && mv "$out.part" "$out"
}
for suite in gaps default explore; do run shipped "$suite"; done
run shipped-offline default
