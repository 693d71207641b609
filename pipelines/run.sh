#!/usr/bin/env bash
# Create (or resume) a run and advance it to its last step.
#
#   pipelines/run.sh RUN [valence-init options...]     (or: make run RUN=... OBJECTIVE=... )
#
# Rerunning resumes from the last complete step; a run that has reached its steps does nothing.
# The steps run in one process (valence-step --all). Environment: VALENCE_BIN, JOBS, QUIET=1.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  echo "usage: $0 RUN [valence-init options]   (see valence-init --help)"
  [[ $# -ge 1 ]] && exit 0
  exit 64
fi
RUN=$1; shift
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${VALENCE_BIN:-$HERE/../.build/release}
Q=(); [[ "${QUIET:-0}" == 1 ]] && Q=(--quiet)

# Lock before valence-init: two overlapping first calls must not write the same files at once.
created=0
[[ -d "$RUN" ]] || created=1
mkdir -p "$RUN"
if [[ -L "$RUN/.lock" ]]; then
  echo "valence-run: $RUN/.lock: is a symbolic link; Valence never follows a link where it writes (remove it)" >&2
  exit 65
fi
exec 9>>"$RUN/.lock"
if ! flock -n 9; then
  echo "valence-run: $RUN is busy (another process holds $RUN/.lock)" >&2
  exit 75
fi
"$BIN/valence-init" --run "$RUN" --quiet "$@" || {
  status=$?
  # A refused config leaves nothing behind: not even the directory this call created.
  # (Safe while we hold the lock: every other caller takes it with flock -n and gives up.)
  if [[ $created == 1 && -z "$(ls -A "$RUN" | grep -vx '.lock')" ]]; then rm -f "$RUN/.lock"; rmdir "$RUN"; fi
  exit $status
}
# valence-step takes the run lock itself (a lock of its own open file, so ours must go first).
exec 9>&-
exec "$BIN/valence-step" --run "$RUN" --all --jobs "${JOBS:-1}" "${Q[@]}"
