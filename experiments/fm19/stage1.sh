#!/usr/bin/env bash
# The nineteenth attempt's score half (experiments/tune_fm.md): release 6 and f = 4 paired on
# MDPs 320-1819 of the tuning suites, seed 0, 300 episodes, gaps first. Resumable: every
# run's score goes to stage1/refresh19-<suite>.csv as it finishes (commit it between
# sessions); a finished suite's table is stage1/refresh19-<suite>.txt. Stops after a suite
# whose interval's lower end is below -0.02 (the rule); STOP_AT_FAIL=0 runs on regardless.
set -euo pipefail
cd "$(dirname "$0")/../.."
# torch's kernels as this attempt began with them (the CPU's own), before rlbench_icl
# pinned them (rlbench_icl/cpu.py): every run of the attempt alike.
export RLBENCH_ICL_TORCH_KERNELS=native
mkdir -p experiments/fm19/stage1
for suite in gaps default explore; do
  out=experiments/fm19/stage1/refresh19-$suite
  if [ ! -s "$out.txt" ]; then
    OMP_NUM_THREADS=1 python experiments/tune_fm.py --sweep refresh18 --suite "$suite" \
      --first 320 --mdps 1500 --seeds 1 --episodes 300 --against 0 --runs "$out.csv" \
      --jobs "${JOBS:-1}" > "$out.txt.part"
    mv "$out.txt.part" "$out.txt"
  fi
  low=$(awk -F'|' '/^\| 4.0/ {gsub(/[][ ]/, "", $5); split($5, ci, ","); print ci[1]}' "$out.txt")
  echo "$suite: lower end $low"
  if [ "${STOP_AT_FAIL:-1}" = 1 ] && awk -v x="$low" 'BEGIN {exit !(x < -0.02)}'; then
    echo "$suite fails the rule: the attempt stops here"; exit 0
  fi
done
