#!/bin/bash
# Slurm array task: the shard-parallel stages of one step for shard $SLURM_ARRAY_TASK_ID.
#
#   sbatch --array=0-$((SHARDS-1)) shards.sh BIN RUN STEP [STAGE...]     (submit.sh does this)
#
# BIN and RUN are absolute paths every node sees. STAGE defaults to "generate verify split weight",
# run in that order for this task's shard only; each stage skips its work when its manifest already
# matches its inputs, so a rerun after a failure redoes only what is missing.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: sbatch --array=0-N $0 BIN RUN STEP [STAGE...]" >&2
  exit 64
fi
BIN=$1 RUN=$2 STEP=$3
shift 3
STAGES=("$@")
[[ ${#STAGES[@]} -gt 0 ]] || STAGES=(generate verify split weight)
if [[ -z "${SLURM_ARRAY_TASK_ID:-}" ]]; then
  echo "valence-slurm: SLURM_ARRAY_TASK_ID is not set: submit this script as a job array (sbatch --array)" >&2
  exit 64
fi
SHARD=$SLURM_ARRAY_TASK_ID

# Timestamps from bash itself ($EPOCHREALTIME): the job may run with no PATH at all (--export=NONE).
echo "valence-slurm: begin $EPOCHREALTIME step $STEP shard $SHARD (${STAGES[*]}) on ${HOSTNAME:-?} job ${SLURM_JOB_ID:-?}"
for stage in "${STAGES[@]}"; do
  "$BIN/valence-$stage" --run "$RUN" --step "$STEP" --shard "$SHARD"
done
echo "valence-slurm: end $EPOCHREALTIME step $STEP shard $SHARD"
