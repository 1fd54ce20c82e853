#!/usr/bin/env bash
# The score half of the cadence rule for gnn-fm-paper's next release (README.md here, "What it
# costs online"): the paper's cadence (f = 1) and a cheaper one, paired on MDPs 1820-2319 of
# each tuning suite, seed 0, 300 episodes, gaps first. SWEEP: tune_fm.py's sweep, paper-refresh
# (the first candidate, f = 4, floor 0) or paper-refresh30 (the second, f = 4, floor 1).
# CKPT: the checkpoint (default: w64's, kept in progress/w64); NAME: the files' prefix (w64-f4m1 for
# the second candidate). Resumable: every run's score goes to refresh/<name>-<suite>.csv as
# it finishes (commit it between sessions); a finished suite's table is
# refresh/<name>-<suite>.txt. Runs every suite (the rule needs all three). MDPS: how many
# MDPs from 1820 on (default 500; w256's rule: 200). ROWS: the sweep's rows to run (default
# all; w256's rule: 0 and every ladder row that passed the cost half so far, earlier ones
# included, as experiments/paper_fm/decide.py cadence prints them).
set -euo pipefail
cd "$(dirname "$0")/../.."
CKPT=${CKPT:-experiments/paper_fm/progress/w64}
SWEEP=${SWEEP:-paper-refresh}
NAME=${NAME:-w64}
mkdir -p experiments/paper_fm/refresh
for suite in gaps default explore; do
  out=experiments/paper_fm/refresh/$NAME-$suite
  if [ ! -s "$out.txt" ]; then
    OMP_NUM_THREADS=1 python experiments/tune_fm.py --sweep "$SWEEP" --checkpoint "$CKPT" \
      --suite "$suite" --first 1820 --mdps "${MDPS:-500}" --seeds 1 --episodes 300 --against 0 \
      ${ROWS:+--rows "$ROWS"} --runs "$out.csv" --jobs "${JOBS:-1}" > "$out.txt.part"
    mv "$out.txt.part" "$out.txt"
  fi
  echo "$suite:"; tail -3 "$out.txt"
done
