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

# Why users other than the submitting one could change PATH, as one phrase ("is writable by group
# staff (mode 0775)"), or nothing when they cannot. PATH must be owned by this user or root, and
# have no write bit for others, nor for its group unless that group is this user's private group
# (named like the user, no other member: Debian's umask 002 scheme; FileOwnership.swift applies
# the same rule). With --no-follow a symbolic link at PATH is itself refused. ACLs are not read.
slurm_unsafe() {
  local follow=-L path=$1 uid gid mode user gname members
  if [[ $1 == --no-follow ]]; then
    follow= path=$2
    if [[ -L $path ]]; then echo "is a symbolic link"; return; fi
  fi
  read -r uid gid mode < <(stat $follow -c '%u %g %a' -- "$path") || { echo "cannot be inspected"; return; }
  user=$(id -un)
  if [[ $uid != "$(id -u)" && $uid != 0 ]]; then
    echo "is owned by $(stat $follow -c %U -- "$path"), not by $user"; return
  fi
  mode=$((8#$mode))
  if (( mode & 8#002 )); then printf 'is writable by every user (mode %04o)\n' "$mode"; return; fi
  if (( mode & 8#020 )); then
    IFS=: read -r gname _ _ members < <(getent group "$gid" || echo "$gid:::")
    if [[ $gname != "$user" || -n $(tr ',' '\n' <<<"$members" | grep -vx -- "$user" | grep .) ]]; then
      printf 'is writable by group %s (mode %04o)\n' "${gname:-$gid}" "$mode"
    fi
  fi
}
