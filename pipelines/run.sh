#!/usr/bin/env bash
# Create (or resume) a run and advance it to its last step.
#
#   pipelines/run.sh RUN [valence-init options...]     (or: make run RUN=... OBJECTIVE=... )
#
# Rerunning resumes from the last complete step; a run that has reached its steps does nothing.
# Everything runs in one process (valence-step --all --create). Environment: VALENCE_BIN, JOBS, QUIET=1.
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

# One process: valence-step --create takes the run lock (exit 75 when another process holds it),
# creates the run or checks its settings as valence-init does (a refused setting leaves nothing
# behind, not even the directory), then runs the remaining steps.
exec "$BIN/valence-step" --run "$RUN" --all --create --jobs "${JOBS:-1}" "${Q[@]}" "$@"
