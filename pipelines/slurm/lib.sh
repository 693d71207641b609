#!/bin/bash
# Shared by submit.sh, status.sh and test.sh (sourced, not run): how a run's jobs are named and found.

# The prefix of every job name of a run: "valence.<run's directory name>.<checksum of its absolute
# path>." so two runs with the same directory name never see each other's jobs.
slurm_job_prefix() {
  local abs=$1 base sum
  base=$(basename "$abs" | tr -c 'A-Za-z0-9_-' '_' | cut -c1-40)
  sum=$(printf '%s' "$abs" | cksum | cut -d' ' -f1)
  printf 'valence.%s.%s.' "${base%_}" "$sum"
}

# The run's jobs still known to squeue, one "JOBID STATE NAME REASON" line each (array tasks that
# have not started are one line with a JOBID like 12_[0-3]).
slurm_run_jobs() {
  local prefix=$1
  squeue -h -o '%i %T %j %r' 2>/dev/null | awk -v p="$prefix" 'index($3, p) == 1'
}
