#!/usr/bin/env bash
# `make paper` until the sweep runner (valence-sweep, `make sweep GRID=...`) is on main: expands a
# grid file (data/grids/paper.json; format in docs/objectives.md, "The paper's Table 1") with jq,
# runs every run with pipelines/run.sh, JOBS at a time, then `valence-report --paper`.
#
#   pipelines/paper.sh GRID [OUT]        (or: make paper [PAPER_GRID=...] [OUT=...] [SEEDS="1 2"])
#
# Environment: JOBS (runs at once, default 2), SEEDS (overrides the grid's seed axis).
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
SEEDS=${SEEDS:-}

# One line per run: "<dir>\t<valence-init options>", in the grid's expansion order.
runs=$(jq -r --arg out "$OUT" --arg seeds "$SEEDS" '
  def prod($o): reduce ($o | to_entries[]) as $e ([{}]; [ .[] as $acc | $e.value[] as $v | $acc + {($e.key): $v} ]);
  def word: if . == null then "off" else tostring end;
  . as $g
  | ($g.axes + (if $seeds == "" then {} else {seed: ($seeds | split(" ") | map(select(. != "") | tonumber))} end)) as $axes
  | [ ($g.cases // [{}])[] | prod(.)[] ] as $cases
  | prod($axes)[] as $a | $cases[] as $c
  | ($g.set + $a + $c) as $run
  | ($g.path | reduce ($run | to_entries[]) as $e (.; gsub("\\{" + $e.key + "\\}"; ($e.value | word)))) as $path
  | [ $run | to_entries[] | select(.value != null and .value != "off" and .value != false)
      | if .value == true then "--\(.key)" else "--\(.key) \(.value | tostring)" end ] as $flags
  | "\($out)/\($path)\t\($flags | join(" "))"' "$GRID")
count=$(printf '%s\n' "$runs" | grep -c .)
echo "paper: $count runs from $GRID into $OUT, $JOBS at a time"
start=$(date +%s)
export HERE
printf '%s\n' "$runs" | tr '\t' ' ' | xargs -P "$JOBS" -L 1 bash -c '
  mkdir -p "$(dirname "$0")"
  "$HERE/run.sh" "$0" "$@" >"$0.log" 2>&1 || { echo "paper: $0 failed:"; tail -3 "$0.log"; exit 255; }'
"$BIN/valence-report" --paper --out "$OUT" $(printf '%s\n' "$runs" | cut -f1)
echo "paper: finished in $(( $(date +%s) - start ))s: $OUT/report.md"
