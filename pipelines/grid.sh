#!/usr/bin/env bash
# Temporary grid driver (until `make sweep` lands): expands a grid file (data/grids/*.json, format in
# docs/mechanism.md) into runs, runs them JOBS at a time (resumable), then writes the
# grid's report with valence-report. The runs are completed in one process (valence-grid-run).
#
#   pipelines/grid.sh GRID [OUT]     Environment: SEEDS ("1 2 3" overrides the seed axis), JOBS (2),
#                                    STEPS (overrides set.steps), VALENCE_BIN.
set -euo pipefail
if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  [[ $# -ge 1 ]] && exit 0
  exit 64
fi
GRID=$1
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${VALENCE_BIN:-$HERE/../.build/release}
OUT=${2:-$(jq -r .out "$GRID")}
JOBS=${JOBS:-2}
seeds=null
[[ -n "${SEEDS:-}" ]] && seeds=$(printf '%s\n' $SEEDS | jq -s -c 'map(tonumber)')
steps=null
[[ -n "${STEPS:-}" ]] && steps=$STEPS
# One line per run: "OUT/path --flag value ...", axes in file order, then each case's product.
lines=$(jq -r --arg out "$OUT" --argjson seeds "$seeds" --argjson steps "$steps" '
  def product: reduce to_entries[] as $e ([[]]; [ .[] as $acc | $e.value[] as $v | $acc + [[$e.key, $v]] ]);
  (.axes | if $seeds != null and has("seed") then .seed = $seeds else . end) as $axes
  | (.set // {} | if $steps != null then .steps = $steps else . end) as $set
  | .path as $path
  | ($axes | product[]) as $a
  | ((.cases // [{}])[] | product[]) as $c
  | ([$set | to_entries[] | [.key, .value]] + $a + $c) as $fields
  | (reduce ($a + $c)[] as $f ($path; gsub("\\{" + $f[0] + "\\}"; ($f[1] | tostring)))) as $dir
  | [$out + "/" + $dir]
    + [ $fields[] | select(.[1] != null and .[1] != "off" and .[1] != false)
        | if .[1] == true then "--" + .[0] else "--" + .[0] + " " + (.[1] | tostring) end ]
  | join(" ")' "$GRID")
count=$(wc -l <<< "$lines")
name=$(jq -r .name "$GRID")
echo "$name: $count runs, $JOBS at a time -> $OUT"
start=$(date +%s)
# Create (or check) every run with valence-init, then complete them all in one process.
while read -r dir flags; do
  mkdir -p "$dir"
  "$BIN/valence-init" --run "$dir" --quiet $flags || { echo "grid: valence-init refused $dir"; exit 78; }
done <<< "$lines"
"$BIN/valence-grid-run" --jobs "$JOBS" $(cut -d" " -f1 <<< "$lines")
echo "$name: runs done in $(( $(date +%s) - start )) s"
report=$(jq -r '.report // "none"' "$GRID")
if [[ $report != none ]]; then
  "$BIN/valence-report" --out "$OUT" --"$report" $(cut -d" " -f1 <<< "$lines")
fi
echo "$name: done in $(( $(date +%s) - start )) s"
