#!/usr/bin/env bash
# Train (or resume) the declared scales of gnn-fm-paper in order, one thread each.
# Re-running resumes every unfinished run from its last checkpoint (every 5 steps).
# A machine's scratch files do not survive a session: `train.sh save` copies each run's
# checkpoint, config and log into progress/ (commit it); `train.sh` restores a run from
# progress/ when runs/ lacks it.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = save ]; then
    for run in runs/w*; do
        [ -f "$run/checkpoint.pt" ] || continue
        mkdir -p "progress/${run#runs/}"
        cp "$run/checkpoint.pt" "$run/config.json" "$run/train_log.jsonl" "progress/${run#runs/}/"
    done
    exit 0
fi
# w64 and w128 began on torch's own choice of kernels (AVX-512 and oneDNN on this project's
# machines), before rlbench_icl pinned them (rlbench_icl/cpu.py): they keep it, so that a run
# on such a CPU gives their checkpoints; w256 trains pinned.
keep_kernels() {
    case $1 in 64|128) echo "RLBENCH_ICL_TORCH_KERNELS=native" ;; esac
}
# w64 finished on 2026-11-30 and ships as submissions/gnn_fm_paper_checkpoint (its run
# directory was lost with that machine's scratch files): WIDTHS="64 128 256" retrains all.
for width in ${WIDTHS:-128 256}; do
    if [ ! -f "runs/w$width/checkpoint.pt" ] && [ -f "progress/w$width/checkpoint.pt" ]; then
        mkdir -p "runs/w$width" && cp "progress/w$width/"* "runs/w$width/"
    fi
    env $(keep_kernels "$width") OMP_NUM_THREADS=1 \
        rlbench-icl train-fm --config "w$width.toml" --out "runs/w$width" --seed 0 --quiet
done
