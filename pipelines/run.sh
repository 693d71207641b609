#!/usr/bin/env bash
# Create (or resume) a run and advance it to its last step.
#
#   pipelines/run.sh RUN [valence-init options...]     (or: make run RUN=... OBJECTIVE=... )
#
# Rerunning resumes from the last complete step; a run that has reached its steps does nothing.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  echo "usage: $0 RUN [valence-init options]   (see valence-init --help)"
  [[ $# -ge 1 ]] && exit 0
  exit 64
fi
RUN=$1; shift
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${VALENCE_BIN:-$HERE/../.build/release}

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
export VALENCE_LOCK_HELD=1
while [[ "$("$BIN/valence-status" --run "$RUN" --next)" != done ]]; do
  "$HERE/step.sh" "$RUN"
done
"$BIN/valence-status" --run "$RUN"
