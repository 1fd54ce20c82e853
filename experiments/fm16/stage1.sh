#!/usr/bin/env bash
# The sixteenth attempt's stage 1 (experiments/tune_fm.md): release 6 and the candidate on the
# synthetic tuning suites, one thread, tables into stage1/. Re-running skips finished tables.
# The candidate's half waits for its training to export run/model.safetensors.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
run() {  # name checkpoint sweep suite
    local out="experiments/fm16/stage1/$1-$3-$4.txt"
    [ -s "$out" ] && return 0
    python experiments/tune_fm.py --checkpoint "$2" --sweep "$3" --suite "$4" --mdps 64 \
        --seeds 3 --episodes 300 --jobs 1 > "$out.part" 2> /dev/null && mv "$out.part" "$out"
}
for who in release6 candidate; do
    ckpt=submissions/gnn_fm_checkpoint
    if [ "$who" = candidate ]; then
        ckpt=experiments/fm16/run
        while [ ! -f "$ckpt/model.safetensors" ]; do sleep 60; done
    fi
    for suite in gaps default explore; do run "$who" "$ckpt" shipped "$suite"; done
    for suite in default gaps; do run "$who" "$ckpt" shipped-offline "$suite"; done
done
