#!/bin/bash
# Where a run submitted to Slurm is: the run's own state (valence-status), its jobs still in the
# queue (squeue), and the jobs of its last submission that failed or were cancelled (scontrol; the
# controller forgets finished jobs after MinJobAge, 300 s by default), with the end of their logs.
#
#   pipelines/slurm/status.sh RUN          (or: make slurm-status RUN=...)
#
# Exit status: 0 when the run is complete or has jobs queued; 1 when it is stalled (not complete and
# nothing queued: resubmit with make slurm-run to resume it).
set -euo pipefail

if [[ $# -ne 1 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  [[ $# -eq 1 ]] && exit 0
  exit 64
fi
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
[[ -f "$1/config.json" ]] || { echo "valence-slurm: $1/config.json: no run here" >&2; exit 66; }
RUN=$(cd "$1" && pwd)
BIN=${VALENCE_BIN:-$HERE/../../.build/release}
[[ -x "$BIN/valence-status" ]] || BIN=$RUN/.slurm/bin

"$BIN/valence-status" --run "$RUN"
next=$("$BIN/valence-status" --run "$RUN" --next)
if ! command -v squeue >/dev/null; then
  echo "slurm: squeue not found here: queue state unknown (run this on a Slurm submit host)"
  exit 0
fi
PREFIX=$(slurm_job_prefix "$RUN")

jobs=$(slurm_run_jobs "$PREFIX")
if [[ -n "$jobs" ]]; then
  running=$(awk '$2 == "RUNNING" || $2 == "COMPLETING"' <<<"$jobs" | wc -l)
  pending=$(awk '$2 == "PENDING"' <<<"$jobs" | wc -l)
  echo "slurm: $running running, $pending pending (array tasks not yet started count as one) (job names start $PREFIX):"
  sed "s/$PREFIX//" <<<"$jobs" | head -8 | awk '{printf "  %-14s %-10s %-16s %s\n", $1, $2, $3, $4}'
  [[ $(wc -l <<<"$jobs") -gt 8 ]] && echo "  ..."
else
  echo "slurm: no jobs of this run in the queue"
fi

# Failed or cancelled jobs of the last submission, as long as the controller still remembers them.
failed=0
if [[ -f "$RUN/.slurm/jobs.tsv" ]]; then
  last=$(tail -1 "$RUN/.slurm/jobs.tsv" | cut -f1)
  for id in $(awk -F'\t' -v s="$last" '$1 == s {print $2}' "$RUN/.slurm/jobs.tsv"); do
    while read -r line; do
      state=$(grep -o 'JobState=[A-Z_]*' <<<"$line" | cut -d= -f2)
      case "$state" in
        ''|PENDING|RUNNING|COMPLETING|COMPLETED|CONFIGURING|SUSPENDED|REQUEUED) continue ;;
      esac
      name=$(grep -o 'JobName=[^ ]*' <<<"$line" | cut -d= -f2)
      task=$(grep -o 'ArrayTaskId=[0-9]*' <<<"$line" | cut -d= -f2 || true)
      reason=$(grep -o 'Reason=[^ ]*' <<<"$line" | cut -d= -f2)
      out=$(grep -o 'StdOut=[^ ]*' <<<"$line" | cut -d= -f2)
      echo "slurm: job $id${task:+_$task} ${name#"$PREFIX"}: $state ($reason)"
      if [[ "$state" != CANCELLED && -f "$out" ]]; then
        tail -5 "$out" | sed 's/^/    /'
      fi
      failed=$((failed + 1))
    done < <(scontrol -o show job "$id" 2>/dev/null || true)
  done
fi

if [[ "$next" == done ]]; then
  exit 0
elif [[ -z "$jobs" ]]; then
  echo "slurm: STALLED: step $next is not done and nothing is queued$([[ $failed -gt 0 ]] && echo " ($failed jobs failed or were cancelled)"); resubmit to resume: make slurm-run RUN=$RUN"
  exit 1
fi
