#!/usr/bin/env bash
# Advance a Valence run by exactly one step: generate, verify, split, weight, update, eval, in one
# process (valence-step; the same files, byte for byte, as the stage executables one by one).
#
#   pipelines/step.sh RUN            (or: make step RUN=runs/NAME)
#
# Safe to call repeatedly and from cron: valence-step takes the run lock (a second overlapping call
# exits 0 at once, saying the run is busy), resumes a step a crash interrupted (completed parts are
# skipped by their manifests; a part rewrites its own leftover temporary files), and does nothing
# once the run has reached its last step. Exit status: 0 (stepped, busy or already complete), else
# the failing stage's (see docs/reliability.md). The first call also evaluates the base policy.
#
# Environment: VALENCE_BIN (directory of the valence-* binaries, default .build/release next to
# this script), JOBS (shards processed at once, default 1), QUIET=1 (print nothing but errors).
set -euo pipefail

usage() { echo "usage: $0 RUN   (advance the run in directory RUN by one step)"; }
if [[ $# -ne 1 || "$1" == -h || "$1" == --help ]]; then usage; [[ $# -eq 1 ]] && exit 0; exit 64; fi

RUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${VALENCE_BIN:-$HERE/../.build/release}
Q=(); [[ "${QUIET:-0}" == 1 ]] && Q=(--quiet)
[[ -x "$BIN/valence-step" ]] || { echo "valence-step: $BIN/valence-step: not built (run: make build)" >&2; exit 69; }
exec "$BIN/valence-step" --run "$RUN" --jobs "${JOBS:-1}" "${Q[@]}"
