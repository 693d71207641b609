#!/usr/bin/env bash
# The ablation: where does NSR's advantage come from? PSR, NSR and W-REINFORCE over the grid
# {sgd, adam} x {M = 1, 4 minibatches} x {no clip, PPO clip 0.2}, several seeds, on one regime;
# then OUT/report.md (mean ± SE per cell, PSR-vs-NSR sentences) and OUT/ablation.csv.
#
#   pipelines/ablation.sh OUT [extra valence-init options...]     (or: make ablation)
#
# Environment: OBJECTIVES (default "psr nsr w-reinforce"), OPTIMIZERS ("sgd adam"),
# MINIBATCHES ("1 4"), CLIPS ("off 0.2"), SEEDS ("1 2 3"), JOBS (runs in parallel, default 2).
# Runs live in OUT/<optimizer>-m<M>-clip<eps|off>/seed<s>/<objective>; rerunning resumes them.
set -euo pipefail

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi
OUT=${1:-runs/ablation}; shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${VALENCE_BIN:-$HERE/../.build/release}
OBJECTIVES=${OBJECTIVES:-psr nsr w-reinforce}
OPTIMIZERS=${OPTIMIZERS:-sgd adam}
MINIBATCHES=${MINIBATCHES:-1 4}
CLIPS=${CLIPS:-off 0.2}
SEEDS=${SEEDS:-1 2 3}
JOBS=${JOBS:-2}

runs=()
for opt in $OPTIMIZERS; do
  for m in $MINIBATCHES; do
    for clip in $CLIPS; do
      for seed in $SEEDS; do
        for o in $OBJECTIVES; do
          runs+=("$OUT/$opt-m$m-clip$clip/seed$seed/$o $opt $m $clip $seed $o")
        done
      done
    done
  done
done
echo "ablation: ${#runs[@]} runs (objectives: $OBJECTIVES; optimizers: $OPTIMIZERS; minibatches: $MINIBATCHES; clips: $CLIPS; seeds: $SEEDS), $JOBS at a time"
start=$(date +%s)
export BIN HERE EXTRA="$*"
# Each run logs to OUT/.../NAME.log; one line per finished run is shown as progress.
printf '%s\n' "${runs[@]}" | xargs -P "$JOBS" -L 1 bash -c '
  set -o pipefail
  mkdir -p "$(dirname "$0")"
  clip=(); [[ "$3" != off ]] && clip=(--clip "$3")
  if ! "$HERE/run.sh" "$0" --optimizer "$1" --minibatches "$2" "${clip[@]}" --seed "$4" --objective "$5" $EXTRA \
       > "$0.log" 2>&1; then
    echo "ablation: $0 failed:"; tail -5 "$0.log"; exit 255
  fi
  echo "  $(tail -1 "$0.log")"'
"$BIN/valence-report" --ablation --out "$OUT" $(for r in "${runs[@]}"; do echo "${r%% *}"; done)
echo "ablation: finished in $(( $(date +%s) - start ))s: $OUT/report.md, $OUT/ablation.csv"
