#!/bin/bash
# Slurm job: the whole-step stages of one step, after all of its shards (submit.sh makes it depend
# on the step's array with --dependency=afterok).
#
#   sbatch update-eval.sh BIN RUN STEP      STEP > 0: valence-update then valence-eval
#                                           STEP = 0: valence-eval of the base policy only
#
# BIN and RUN are absolute paths every node sees. Both stages skip their work when their manifest
# already matches their inputs.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: sbatch $0 BIN RUN STEP" >&2
  exit 64
fi
BIN=$1 RUN=$2 STEP=$3

echo "valence-slurm: begin $EPOCHREALTIME step $STEP update-eval on ${HOSTNAME:-?} job ${SLURM_JOB_ID:-?}"
if [[ "$STEP" != 0 ]]; then
  "$BIN/valence-update" --run "$RUN" --step "$STEP"
fi
"$BIN/valence-eval" --run "$RUN" --step "$STEP"
echo "valence-slurm: end $EPOCHREALTIME step $STEP update-eval"
