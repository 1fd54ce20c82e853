#!/usr/bin/env bash
# Keep the reference re-run's progress in git: a machine's scratch directory (.ref-results-0.2)
# does not outlive a session. `save` packs it (gzipped, deterministic: rlbench-icl pack) into
# experiments/ref-0.2/, to be committed; `restore` unpacks that into the scratch directory, so
# reference_runs.sh reuses every stored run. When the re-run is complete, the same packed files
# go to leaderboard/results (git stores each blob once).
set -euo pipefail
SCRATCH=${SCRATCH:-.ref-results-0.2}
KEPT=${KEPT:-experiments/ref-0.2}
case "${1:-}" in
  save)
    rlbench-icl pack --results "$SCRATCH" --out "$KEPT" ;;
  restore)
    mkdir -p "$SCRATCH"
    (cd "$KEPT" && find . -name 'seed-*.json.gz' -print0) |
      while IFS= read -r -d '' f; do
        target="$SCRATCH/${f%.gz}"
        [ -e "$target" ] && continue
        mkdir -p "$(dirname "$target")"
        gunzip -c "$KEPT/$f" > "$target"
      done ;;
  *) echo "usage: $0 save|restore" >&2; exit 2 ;;
esac
