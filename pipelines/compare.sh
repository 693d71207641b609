#!/usr/bin/env bash
# The main job: every objective in both regimes (WINDOW=0 and WINDOW=1) from the same base, then
# runs/compare/report.md and runs/compare/passk.csv.
#
#   pipelines/compare.sh OUT [extra valence-init options...]     (or: make compare)
#
# Environment: OBJECTIVES (default "psr nsr w-reinforce reinforce grpo rloo dr-grpo topr ppo"), WINDOWS ("0 1"),
# SEEDS ("1"), JOBS (runs in parallel, default 2), SAMPLES (rollouts per test prompt for the sampled
# Pass@k of the base and final policies, default 1024; 0 skips it).
# Also writes passk.svg, training.svg and diagnostics.svg, and PNG copies when rsvg-convert exists, and
# TensorBoard event files in each run's tb/ (tensorboard --logdir OUT).
set -euo pipefail

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi
OUT=${1:-runs/compare}; shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${VALENCE_BIN:-$HERE/../.build/release}
OBJECTIVES=${OBJECTIVES:-psr nsr w-reinforce reinforce grpo rloo dr-grpo topr ppo}
WINDOWS=${WINDOWS:-0 1}
SEEDS=${SEEDS:-1}
JOBS=${JOBS:-2}
SAMPLES=${SAMPLES:-1024}

runs=()
for w in $WINDOWS; do
  for seed in $SEEDS; do
    for o in $OBJECTIVES; do
      runs+=("$OUT/w$w/seed$seed/$o $w $seed $o")
    done
  done
done
echo "compare: ${#runs[@]} runs (objectives: $OBJECTIVES; windows: $WINDOWS; seeds: $SEEDS), $JOBS at a time"
start=$(date +%s)
export BIN HERE EXTRA="$*"
# Each run logs every step to OUT/.../NAME.log; every tenth step's eval line is shown as progress.
printf '%s\n' "${runs[@]}" | xargs -P "$JOBS" -L 1 bash -c '
  set -o pipefail
  mkdir -p "$(dirname "$0")"
  if ! "$HERE/run.sh" "$0" --window "$1" --seed "$2" --objective "$3" $EXTRA 2>&1 | tee "$0.log" \
       | { grep --line-buffered -E "^eval: step [0-9]*0/" || true; } | sed -u "s|^eval: |  |"; then
    echo "compare: $0 failed:"; tail -5 "$0.log"; exit 255
  fi'
if [[ "$SAMPLES" != 0 ]]; then
  echo "compare: sampled Pass@k of the base and final policies ($SAMPLES rollouts per test prompt)"
  export SAMPLES
  for r in "${runs[@]}"; do echo "${r%% *}"; done | xargs -P "$JOBS" -L 1 bash -c '
    steps=$(jq -r .steps "$0/config.json")
    for s in 0 "$steps"; do "$BIN/valence-eval" --run "$0" --step "$s" --samples "$SAMPLES" --quiet || exit 255; done'
fi
"$BIN/valence-report" --out "$OUT" $(for r in "${runs[@]}"; do echo "${r%% *}"; done)
# TensorBoard event files in each run's tb/ (tensorboard --logdir "$OUT" shows every run; docs/tensorboard.md).
"$BIN/valence-tensorboard" --quiet $(for r in "${runs[@]}"; do echo "${r%% *}"; done)
if command -v rsvg-convert >/dev/null; then
  for f in passk training diagnostics; do
    rsvg-convert --format png --zoom 1.5 --background-color white -o "$OUT/$f.png" "$OUT/$f.svg" \
      || echo "compare: rsvg-convert could not render $OUT/$f.svg (the SVG is still there)" >&2
  done
else
  echo "compare: rsvg-convert not found: wrote SVG figures only (make plot-deps installs librsvg2-bin for PNGs)"
fi
echo "compare: finished in $(( $(date +%s) - start ))s: $OUT/report.md, $OUT/passk.svg, $OUT/training.svg, $OUT/passk.csv"
