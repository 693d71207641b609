#!/usr/bin/env bash
# Byte-identity check for objectives: makes one small run of each objective that existed before the
# objective registry (plus a few with update switches) with the binaries in BIN, into OUT.
#
#   Tests/golden/objective-runs.sh BIN OUT            make the runs
#   Tests/golden/objective-runs.sh --compare A B      every file of run directories A and B must be identical
#
# Used once with the binaries from before the redesign (/tmp/objectives-before) and again after it;
# ObjectiveGoldenTests runs the comparison when both exist.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

if [[ "${1:-}" == --compare ]]; then
  a=$2 b=$3
  # Locks, the durability record (.synced) and logs are not results; everything else (config,
  # manifests, shards, metrics) must match.
  diff -r -q -x .lock -x .locks -x .synced -x '*.log' "$a" "$b"
  exit $?
fi
BIN=$1 OUT=$2
export VALENCE_BIN=$BIN
SMALL=(--digits 2 --train 60 --test 40 --corpus 2000 --batch 8 --group 4 --steps 3 --shards 2)
runs=(
  "psr" "nsr" "reinforce" "w-reinforce" "grpo" "rloo" "dr-grpo" "topr" "ppo"
  "w-reinforce-m4 --objective w-reinforce --minibatches 4"
  "topr-m4-clip --objective topr --minibatches 4 --clip 0.2"
  "ppo-m4-clip --objective ppo --minibatches 4 --clip 0.2 --window 1"
  "grpo-filter --objective grpo --filter-groups"
  "nsr-kl-entropy --objective nsr --kl-coef 0.05 --entropy-coef 0.01 --minibatches 2"
  "psr-sgd-clip --objective psr --optimizer sgd --clip 0.2 --minibatches 4 --grad-clip 1"
)
mkdir -p "$OUT"
for spec in "${runs[@]}"; do
  set -- $spec
  name=$1; shift
  [[ $# -eq 0 ]] && set -- --objective "$name"
  rm -rf "$OUT/$name"
  "$HERE/../../pipelines/run.sh" "$OUT/$name" "${SMALL[@]}" "$@" >/dev/null
done
