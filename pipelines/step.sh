#!/usr/bin/env bash
# Advance a Valence run by exactly one step: generate, verify, split, weight, update, eval.
#
#   pipelines/step.sh RUN            (or: make step RUN=runs/NAME)
#
# Safe to call repeatedly and from cron: it takes a per-run lock (a second overlapping call exits 0
# at once, saying the run is busy), resumes a step a crash interrupted (completed stages are
# skipped by their manifests), deletes temporary files a crash left, and does nothing once the run
# has reached its last step. Exit status: 0 (stepped, busy or already complete), else the failing
# stage's (see docs/reliability.md).
# The first call also evaluates the base policy (step 0).
#
# Environment: VALENCE_BIN (directory of the valence-* binaries, default .build/release next to
# this script), JOBS (shards processed at once, default 1), QUIET=1 (only the eval line).
set -euo pipefail

usage() { echo "usage: $0 RUN   (advance the run in directory RUN by one step)"; }
if [[ $# -ne 1 || "$1" == -h || "$1" == --help ]]; then usage; [[ $# -eq 1 ]] && exit 0; exit 64; fi

RUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${VALENCE_BIN:-$HERE/../.build/release}
JOBS=${JOBS:-1}
Q=(); [[ "${QUIET:-0}" == 1 ]] && Q=(--quiet)

for tool in valence-status valence-generate valence-verify valence-split valence-weight valence-update valence-eval; do
  [[ -x "$BIN/$tool" ]] || { echo "valence-step: $BIN/$tool: not built (run: make build)" >&2; exit 69; }
done
[[ -f "$RUN/config.json" ]] || { echo "valence-step: $RUN/config.json: no run here (create it with make run or valence-init)" >&2; exit 66; }

if [[ -z "${VALENCE_LOCK_HELD:-}" ]]; then
  # `>>` would follow a link planted at the lock's name and create or open its target.
  if [[ -L "$RUN/.lock" ]]; then
    echo "valence-step: $RUN/.lock: is a symbolic link; Valence never follows a link where it writes (remove it)" >&2
    exit 65
  fi
  exec 9>>"$RUN/.lock"
  if ! flock -n 9; then
    echo "valence-step: $RUN is busy (another step holds $RUN/.lock); nothing to do"
    exit 0
  fi
fi

# Under the run lock no other step is writing, so a temporary file is a crash leftover, unless
# a stage run by hand holds its part lock (RUN/.locks/*.lock) right now: then leave them all be
# (a leftover is harmless: the stage that owns the name removes it and creates its file afresh).
# Symbolic links at temporary names are removed too (the link, never its target).
hand_run=0
for part_lock in "$RUN"/.locks/*.lock; do
  [[ -e $part_lock ]] || continue
  if ! flock -n "$part_lock" true 2>/dev/null; then hand_run=1; break; fi
done
if [[ $hand_run == 0 ]]; then
  find "$RUN" -name '.*.tmp' \( -type f -o -type l \) -delete 2>/dev/null || true
fi

next=$("$BIN/valence-status" --run "$RUN" --next)
if [[ "$next" == 0 ]]; then
  "$BIN/valence-eval" --run "$RUN" --step 0 "${Q[@]}"
  next=$("$BIN/valence-status" --run "$RUN" --next)
fi
if [[ "$next" == done ]]; then
  echo "valence-step: $RUN has reached its last step; nothing to do"
  exit 0
fi

for stage in generate verify split weight; do
  "$BIN/valence-$stage" --run "$RUN" --step "$next" --jobs "$JOBS" --quiet
done
"$BIN/valence-update" --run "$RUN" --step "$next" --quiet
"$BIN/valence-eval" --run "$RUN" --step "$next" "${Q[@]}"
