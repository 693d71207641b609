#!/bin/bash
# Submit the rest of a Valence run to Slurm, as a chain of job arrays, and return at once.
#
#   pipelines/slurm/submit.sh RUN [valence-init options...]   (or: make slurm-run RUN=... SHARDS=4 STEPS=...)
#
# Creates RUN (valence-init with the given options) or updates its steps/shards (an existing run
# given no options is taken as it is), then submits, from
# the run's next step to its last:
#   <prefix>s000000.eval      the base policy's evaluation (only when it is not done yet)
#   <prefix>sNNNNNN.shards    job array 0..SHARDS-1: task i runs generate, verify, split, weight on
#                             shard i; --dependency=afterok on the previous step's update-eval job
#   <prefix>sNNNNNN.update    update and eval, --dependency=afterok on the step's array
# Every job has --kill-on-invalid-dep=yes: when one fails, the rest of the chain is cancelled instead
# of waiting forever. Resubmitting resumes from the first step not evaluated; stages that already
# completed do nothing. A run whose jobs are still queued is refused (exit 75).
#
# Only RUN must be on a filesystem every node sees. The binaries are staged (stripped, with the Swift
# runtime libraries they load) into RUN/.slurm/bin and called there by absolute path, so the nodes
# need neither Swift nor the build directory. Job logs: RUN/.slurm/logs; submissions: RUN/.slurm/jobs.tsv.
#
# Whoever can write RUN, RUN/.slurm or RUN/.slurm/bin could replace what the jobs run as you: a run
# directory any of which users other than its owner can write (or owned by someone else, or with
# .slurm a symbolic link) is refused before anything is written or submitted (exit 77; see
# docs/security.md). Staged binaries are read-only; directories this script creates get no group or
# other write bit.
#
# Environment:
#   VALENCE_BIN        the built valence-* binaries (default: .build/release of this checkout)
#   VALENCE_SLURM_BIN  use this directory of binaries (same absolute path on every node) instead of staging
#   VALENCE_SBATCH     extra sbatch options for every job, e.g. "--partition=cpu --time=00:10:00"
#   VALENCE_SLURM_MODE shard (default): one array per step, each task runs its shard's four stages;
#                      stage: one array per stage, task i of each waiting for task i of the one
#                      before (--dependency=aftercorr); more scheduling, finer-grained retries
set -euo pipefail

if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'
  [[ $# -ge 1 ]] && exit 0
  exit 64
fi
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
RUN=$1; shift
BIN=$(cd "${VALENCE_BIN:-$HERE/../../.build/release}" 2>/dev/null && pwd) \
  || { echo "valence-slurm: ${VALENCE_BIN:-.build/release}: no such directory (run: make build)" >&2; exit 69; }
MODE=${VALENCE_SLURM_MODE:-shard}
read -r -a EXTRA <<<"${VALENCE_SBATCH:-}"
TOOLS=(valence-status valence-generate valence-verify valence-split valence-weight valence-update valence-eval)

die() { echo "valence-slurm: $1" >&2; exit "${2:-1}"; }
for tool in valence-init "${TOOLS[@]}"; do
  [[ -x "$BIN/$tool" ]] || die "$BIN/$tool: not built (run: make build)" 69
done
[[ "$MODE" == shard || "$MODE" == stage ]] || die "VALENCE_SLURM_MODE=$MODE: use shard or stage" 64

# Nobody but the owner may be able to change what the jobs will run (before anything is written).
if [[ ! -e "$RUN" ]]; then
  mkdir -p "$RUN"
  chmod go-w "$RUN"
fi
RUN=$(cd "$RUN" && pwd)
refuse_unsafe() {  # [--no-follow] PATH
  local why path=${*: -1} fix=
  why=$(slurm_unsafe "$@")
  [[ "$why" == *writable* ]] && fix=" (chmod go-w $path)"
  [[ -z "$why" ]] || die "$path $why: other users could change what the jobs run as $(id -un)$fix" 77
}
refuse_unsafe "$RUN"
for dir in "$RUN/.slurm" "$RUN/.slurm/bin"; do
  if [[ -e "$dir" || -L "$dir" ]]; then refuse_unsafe --no-follow "$dir"; fi
done
if [[ -n "${VALENCE_SLURM_BIN:-}" ]]; then
  refuse_unsafe "$VALENCE_SLURM_BIN"
  for tool in "${TOOLS[@]}"; do
    if [[ -e "$VALENCE_SLURM_BIN/$tool" ]]; then refuse_unsafe "$VALENCE_SLURM_BIN/$tool"; fi
  done
fi
# A directory above RUN that others can write (without the sticky bit) lets them rename RUN away
# and put another in its place: said, not refused (shared project directories are often so).
dir=$(cd "$RUN" && pwd -P)
while [[ "$dir" != / ]]; do
  dir=$(dirname "$dir")
  if [[ ! -k "$dir" ]] && why=$(slurm_unsafe "$dir") && [[ "$why" == *writable* ]]; then
    echo "valence-slurm: warning: $dir $why: other users could replace $RUN" >&2
  fi
done

for tool in sbatch squeue; do
  command -v "$tool" >/dev/null || die "$tool not found: run this on a Slurm submit host (or: make test-slurm)" 69
done
PREFIX=$(slurm_job_prefix "$RUN")

# A run with jobs in the queue is left alone: re-initialising could change its shards under them.
queued=$(slurm_run_jobs "$PREFIX")
if [[ -n "$queued" ]]; then
  echo "valence-slurm: $RUN already has $(wc -l <<<"$queued") jobs queued (see: make slurm-status RUN=$RUN):" >&2
  head -5 <<<"$queued" >&2
  exit 75
fi

# Without init options an existing run is submitted as it is (valence-init would apply its defaults).
if [[ $# -gt 0 || ! -f "$RUN/config.json" ]]; then
  "$BIN/valence-init" --run "$RUN" --quiet "$@"
fi
next=$("$BIN/valence-status" --run "$RUN" --next)
if [[ "$next" == done ]]; then
  "$BIN/valence-status" --run "$RUN"
  echo "valence-slurm: nothing to submit"
  exit 0
fi
config_int() { sed -n "s/^ *\"$1\": *\([0-9]*\),\{0,1\}$/\1/p" "$RUN/config.json"; }
STEPS=$(config_int steps)
SHARDS=$(config_int shards)
[[ "$STEPS" =~ ^[0-9]+$ && "$SHARDS" =~ ^[0-9]+$ ]] || die "$RUN/config.json: cannot read steps and shards" 65

# Stage the binaries into the run directory (the one thing every node sees). Each file is replaced
# by an atomic rename and only when it changed, so jobs of a finished submission are never disturbed.
stage_binaries() {
  local dest=$1 tmp f name
  mkdir -p "$dest"
  chmod go-w "$RUN/.slurm" "$dest"
  tmp=$(mktemp -d "$dest/.staging.XXXXXX")
  for tool in "${TOOLS[@]}"; do
    strip -o "$tmp/$tool" "$BIN/$tool" 2>/dev/null || cp "$BIN/$tool" "$tmp/$tool"   # stripped: 1.5 MB, not 6
  done
  # The shared libraries they load from outside the system library directories (the Swift runtime):
  # the binaries' RUNPATH ends in $ORIGIN, so copies beside them are found where Swift is absent.
  for f in $(for tool in "${TOOLS[@]}"; do ldd "$BIN/$tool" 2>/dev/null || true; done \
             | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | grep -vE '^/(usr/)?lib(64|32)?/' | sort -u); do
    cp -L "$f" "$tmp/$(basename "$f")"
  done
  for f in "$tmp"/*; do
    name=$(basename "$f")
    # Read-only for everyone: a job never runs a binary something could have written to since.
    if cmp -s "$f" "$dest/$name"; then rm -f "$f"; chmod 555 "$dest/$name"; else chmod 555 "$f"; mv -f "$f" "$dest/$name"; fi
  done
  rmdir "$tmp"
}
if [[ -n "${VALENCE_SLURM_BIN:-}" ]]; then
  JOB_BIN=$(cd "$VALENCE_SLURM_BIN" && pwd) || die "VALENCE_SLURM_BIN=$VALENCE_SLURM_BIN: no such directory" 66
else
  JOB_BIN=$RUN/.slurm/bin
  stage_binaries "$JOB_BIN"
fi
LOGS=$RUN/.slurm/logs
mkdir -p "$LOGS"
chmod go-w "$RUN/.slurm" "$LOGS"
SUBMISSION=$(date +%Y%m%dT%H%M%S)-$$

# submit NAME DEPENDENCY SBATCH-OPTIONS-AND-SCRIPT...: prints the job id.
submit() {
  local name=$1 dep=$2 out id; shift 2
  local deps=()
  [[ -n "$dep" ]] && deps=(--dependency="$dep" --kill-on-invalid-dep=yes)
  if [[ " $* " == *" --array="* ]]; then out="$LOGS/%x-%A_%a.out"; else out="$LOGS/%x-%j.out"; fi
  id=$(sbatch --parsable --job-name="$name" --chdir="$RUN" --output="$out" --export=NONE \
         --ntasks=1 --cpus-per-task=1 "${deps[@]}" "${EXTRA[@]}" "$@") \
    || die "sbatch failed for $name (jobs submitted so far are in $RUN/.slurm/jobs.tsv)"
  id=${id%%;*}
  printf '%s\t%s\t%s\n' "$SUBMISSION" "$id" "$name" >>"$RUN/.slurm/jobs.tsv"
  echo "$id"
}
step_name() { printf '%ss%06d.%s' "$PREFIX" "$1" "$2"; }

prev=""
first=$next
if [[ "$next" == 0 ]]; then
  prev=$(submit "$(step_name 0 eval)" "" "$HERE/update-eval.sh" "$JOB_BIN" "$RUN" 0)
  next=1
fi
for ((step = next; step <= STEPS; step++)); do
  dep=${prev:+afterok:$prev}
  if [[ "$MODE" == shard ]]; then
    array=$(submit "$(step_name "$step" shards)" "$dep" --array="0-$((SHARDS - 1))" \
              "$HERE/shards.sh" "$JOB_BIN" "$RUN" "$step")
  else
    for stage in generate verify split weight; do
      array=$(submit "$(step_name "$step" "$stage")" "$dep" --array="0-$((SHARDS - 1))" \
                "$HERE/shards.sh" "$JOB_BIN" "$RUN" "$step" "$stage")
      dep=aftercorr:$array
    done
  fi
  prev=$(submit "$(step_name "$step" update)" "afterok:$array" "$HERE/update-eval.sh" "$JOB_BIN" "$RUN" "$step")
done
count=$(awk -v s="$SUBMISSION" '$1 == s' "$RUN/.slurm/jobs.tsv" | wc -l)
echo "valence-slurm: submitted steps $first..$STEPS of $RUN ($SHARDS shards, mode $MODE): $count jobs, last $prev"
echo "valence-slurm: follow with: make slurm-status RUN=$RUN   (logs: $LOGS)"
