#!/usr/bin/env bash
# gnn-fm's reference results, for the release submissions/gnn_fm.py names: the dev stage of a
# release's rule (experiments/tune_fm.md), its check, and the test run. Sealed runs, as every
# reference result; resumable (stored runs are reused; `save` keeps progress in git between
# sessions, in KEPT).
#   fm_release.sh dev     gnn-fm's dev grid (the reference grid's dev suites) into OUT
#   fm_release.sh check   the release rule: online P(> ucbvi) and P(> rmax-plan) on dev, with
#                         the other submissions' committed results; exits 1 if a CI's lower
#                         end is at or below 0.5 (then nothing ships)
#   fm_release.sh test    gnn-fm's test suite, once, after `check` passed
#   fm_release.sh save | restore   progress to / from KEPT (release 6.1's runs are kept in
#                         experiments/gnn-fm-release)
# Then, by hand, as reference_runs.sh says: pack into leaderboard/results (gnn-fm's old files
# removed first), verify and sign, rebuild the leaderboard.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.gnn-fm-release}
KEPT=${KEPT:-experiments/gnn-fm-release}
DEV="family --instances 2:10,full:10,paper:12"
case "${1:-}" in
  dev)
    ONLINE=gnn-fm OFFLINE=gnn-fm SUITES=$DEV experiments/reference_runs.sh "$OUT" ;;
  test)
    ONLINE=gnn-fm OFFLINE=gnn-fm SUITES=test:3 experiments/reference_runs.sh "$OUT" ;;
  save)
    rlbench-icl pack --results "$OUT" --out "$KEPT" --force ;;
  restore)
    SCRATCH=$OUT KEPT=$KEPT experiments/ref_checkpoint.sh restore ;;
  check)
    both=$(mktemp -d)
    trap 'rm -rf "$both"' EXIT
    cp -r leaderboard/results "$both/results"
    rm -rf "$both/results/gnn-fm"
    rlbench-icl pack --results "$OUT" --out "$both/results" > /dev/null
    rlbench-icl leaderboard --results "$both/results" --out "$both/board" --test '' --quiet \
        > /dev/null
    python - "$both/board" <<'EOF'
import csv, sys
from pathlib import Path
board = Path(sys.argv[1])
row = next((r for r in csv.DictReader(open(board / "online_leaderboard.csv"))
            if r["submission"] == "gnn-fm"), None)
if row is None or row["status"] != "ranked":  # a grid with missing runs is not judged
    status = "absent" if row is None else repr(row["status"])
    sys.exit(f"gnn-fm is {status} on dev, not ranked: finish `fm_release.sh dev`")
inputs = next(r for r in csv.DictReader(open(board / "model_vs_inputs.csv"))
              if r["model"] == "gnn-fm" and r["suite, protocol"] == "dev online")
checks = [("P(gnn-fm > ucbvi), dev online", row["P(> ucbvi)"], row["P(> ucbvi) low"],
           row["P(> ucbvi) high"]),
          ("P(gnn-fm > rmax-plan), dev online", inputs["P(model > inputs)"],
           inputs["P(model > inputs) low"], inputs["P(model > inputs) high"])]
for name, p, low, high in checks:
    print(f"{name}: {float(p):.6f} [{float(low):.6f}, {float(high):.6f}]")
print(f"IQM, dev online: {float(row['IQM']):.6f} [{float(row['IQM low']):.6f}, "
      f"{float(row['IQM high']):.6f}]; runs {row['runs']}, failed {row['failed']}")
passed = all(float(low) > 0.5 for _, _, low, _ in checks)
print("passes: both lower ends above 0.5" if passed else "fails: nothing ships")
sys.exit(0 if passed else 1)
EOF
    ;;
  *) echo "usage: $0 dev|check|test|save|restore (OUT, KEPT: directories)" >&2; exit 2 ;;
esac
