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

"$BIN/valence-init" --run "$RUN" --quiet "$@"

exec 9>>"$RUN/.lock"
if ! flock -n 9; then
  echo "valence-run: $RUN is busy (another process holds $RUN/.lock)" >&2
  exit 75
fi
export VALENCE_LOCK_HELD=1
while [[ "$("$BIN/valence-status" --run "$RUN" --next)" != done ]]; do
  "$HERE/step.sh" "$RUN"
done
"$BIN/valence-status" --run "$RUN"
