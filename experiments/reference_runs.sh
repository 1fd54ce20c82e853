#!/usr/bin/env bash
# Every committed reference result, sealed, into OUT (default .ref-results-0.2/): the test
# suite first (the front page), then the dev suite's family instances, the fixed tasks and
# the paper's tasks. Re-running resumes: stored runs are reused. ONLINE / OFFLINE override the
# agent lists (set empty, e.g. OFFLINE=, for none); SUITES the suites, comma-separated "selector:seeds" in order (a restart that
# needs only the later ones skips the reuse checks of the earlier, ~15 s per agent and suite).
# Across sessions (a machine's scratch files do not survive one), commit progress with
# experiments/ref_checkpoint.sh save, and restore it with ... restore. Then, by hand (as for
# 0.2.0 on 2026-12-01):
#   git rm -rq leaderboard/results && rlbench-icl pack --results OUT --out leaderboard/results
#   rlbench-icl verify --results leaderboard/results --sample 8 --sign KEYFILE
#   rlbench-icl verify --results leaderboard/results --sample 8 --tasks test --seed 1 --sign KEYFILE
#   rlbench-icl leaderboard --html leaderboard
set -euo pipefail
OUT=${1:-.ref-results-0.2}
JOBS=${JOBS:-2}
ONLINE=${ONLINE-"ucbvi rmax-plan gnn-fm psrl ucbvi-bernstein ucbvi-paper qlearning qlearning-ucb qlearning-paper plugin-online random ${EXTRA_ONLINE:-}"}
OFFLINE=${OFFLINE-"vi-lcb rmax-plan gnn-fm vi-lcb-bernstein vi-lcb-paper plugin random ${EXTRA_OFFLINE:-}"}
run() { rlbench-icl run --quiet --jobs "$JOBS" --out "$OUT" "$@" || echo "failures in: $*" >&2; }
SUITES=${SUITES:-"test:3,family --instances 2:10,full:10,paper:12"}
IFS=, read -r -a suites <<< "$SUITES"
for suite in "${suites[@]}"; do
    tasks=${suite%%:*}; seeds=${suite##*:}
    for a in $ONLINE; do
        run --agent "$a" --tasks $tasks --protocol online --seeds "$seeds"
    done
    [ "$tasks" = paper ] && continue  # the paper's protocol is online only
    for a in $OFFLINE; do
        run --agent "$a" --tasks $tasks --protocol offline --seeds "$seeds"
    done
done
