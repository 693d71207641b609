#!/bin/bash
# A throw-away one-node Slurm cluster on this machine, for testing the Slurm pipeline (no systemd).
#
#   pipelines/slurm/cluster.sh install          install slurmctld slurmd slurm-client munge where missing
#   pipelines/slurm/cluster.sh start DIR        start munged (unless one answers), slurmctld and slurmd;
#                                               everything else (config, state, logs, pids) lives in DIR
#   pipelines/slurm/cluster.sh stop DIR         cancel its jobs, stop the daemons it started, wait for them
#   pipelines/slurm/cluster.sh logs DIR         print the daemons' logs (for failure reports)
#
# After `start`, `source DIR/env` points the Slurm commands (sbatch, squeue, ...) at this cluster
# through SLURM_CONF; /etc/slurm is never touched. Must run as root (the daemons and munged need it).
# Every wait has a timeout and a failure says what did not come up; `stop` is safe to call twice and
# on a half-started cluster. SLURM_CONF_EXTRA (lines) is appended to the generated slurm.conf, for
# trying other settings; SLURMCTLD_PORT picks the first port tried (default 6817); SLURM_NODE_HIDE
# (directories) hides them from the node's jobs, to play a compute node without, say, Swift.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"   # the daemons live there; a non-login root shell may lack it

die() { echo "slurm-cluster: $*" >&2; exit 1; }
say() { echo "slurm-cluster: $*"; }

# True while PID names a live process: /proc/PID/stat exists and its state is not Z (zombie) or
# X (dead). `kill -0` is not enough: it succeeds on a zombie that nobody reaps.
alive() {
  local pid=$1 stat
  [[ -n "$pid" ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }   # the field after "(comm) "
  [[ "${stat:0:1}" != Z && "${stat:0:1}" != X ]]
}
dead() { ! alive "$1"; }

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds or time runs out.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      echo "slurm-cluster: timed out after ${seconds}s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

# stop_pid NAME PIDFILE: SIGTERM, up to 15 s to exit, then SIGKILL and up to 5 s more.
stop_pid() {
  local name=$1 file=$2 pid
  [[ -f "$file" ]] || return 0
  pid=$(cat "$file")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_for 15 "$name (pid $pid) to exit" dead "$pid"; then
      say "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_for 5 "$name (pid $pid) to die" dead "$pid" \
        || { echo "slurm-cluster: $name (pid $pid) is still running" >&2; return 1; }
    fi
  fi
  rm -f "$file"
}

free_port() {   # free_port FIRST: the first port >= FIRST nobody listens on (127.0.0.1)
  local p=$1
  while (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

no_stepd() {   # true when no live slurmstepd process is left
  local f pid
  for f in /proc/[0-9]*/comm; do
    [[ "$(cat "$f" 2>/dev/null)" == slurmstepd ]] || continue
    pid=${f#/proc/}; pid=${pid%/comm}
    alive "$pid" && return 1
  done
  return 0
}

munge_works() { munge -n </dev/null | unmunge >/dev/null; }

cmd_install() {
  local missing=()
  command -v slurmctld >/dev/null || missing+=(slurmctld)
  command -v slurmd >/dev/null || missing+=(slurmd)
  command -v sbatch >/dev/null || missing+=(slurm-client)
  command -v munged >/dev/null || missing+=(munge)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) == 0 ]] || die "installing ${missing[*]} needs root (or install them by hand)"
  command -v apt-get >/dev/null || die "no apt-get here: install ${missing[*]} with your package manager"
  say "installing ${missing[*]} (Debian packages)"
  local start=$SECONDS
  timeout 300 apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 \
    slurmctld slurmd slurm-client munge >/dev/null || die "apt-get install ${missing[*]} failed"
  say "installed in $((SECONDS - start))s"
}

cmd_start() {
  local dir=$1
  [[ $(id -u) == 0 ]] || die "start needs root (munged runs as the munge user, the Slurm daemons as root)"
  for tool in munge unmunge munged slurmctld slurmd sbatch squeue scontrol sinfo; do
    command -v "$tool" >/dev/null || die "$tool is not installed (run: $0 install)"
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ -f "$dir/slurmctld.pid" ]] && alive "$(cat "$dir/slurmctld.pid")" && die "$dir already holds a running cluster"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"

  # munge: reuse a munged that already answers (a real host's); otherwise start our own.
  if munge_works 2>/dev/null; then
    say "munged already running; using it"
  else
    [[ -f /etc/munge/munge.key ]] || {
      say "creating /etc/munge/munge.key"
      setpriv --reuid=munge --regid=munge --init-groups mungekey --create --keyfile=/etc/munge/munge.key \
        || die "could not create /etc/munge/munge.key"
    }
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    setpriv --reuid=munge --regid=munge --init-groups munged --foreground --force </dev/null \
      >>"$dir/log/munged.out" 2>&1 &
    echo $! >"$dir/munged.pid"
    wait_for 15 "munged to answer (log: /var/log/munge/munged.log)" munge_works \
      || { cat /var/log/munge/munged.log "$dir/log/munged.out" 2>/dev/null | tail -20 >&2; return 1; }
  fi

  local host ctld_port slurmd_port node
  host=$(hostname -s)
  ctld_port=$(free_port "${SLURMCTLD_PORT:-6817}")
  slurmd_port=$(free_port $((ctld_port + 1)))
  # The node line is what slurmd itself detects, so the controller never drains it as mismatched.
  node=$(slurmd -C | head -1)
  [[ "$node" == NodeName=* ]] || die "slurmd -C printed no node line: $node"
  cat >"$dir/slurm.conf" <<EOF
# Written by pipelines/slurm/cluster.sh: a one-node test cluster, nothing here is permanent.
ClusterName=valence
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.daemon.pid
SlurmdPidFile=$dir/slurmd.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=600
${SLURM_CONF_EXTRA:-}
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=valence Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  printf 'export SLURM_CONF=%q\n' "$dir/slurm.conf" >"$dir/env"
  export SLURM_CONF=$dir/slurm.conf

  slurmctld -D -i -f "$dir/slurm.conf" </dev/null >>"$dir/log/slurmctld.out" 2>&1 &
  echo $! >"$dir/slurmctld.pid"
  wait_for 30 "slurmctld to answer on port $ctld_port" bash -c 'scontrol ping | grep -q "is UP"' \
    || { cmd_logs "$dir" >&2; return 1; }
  # SLURM_NODE_HIDE: directories the node (slurmd and so every job) must not see, e.g. the Swift
  # toolchain, as on a compute node without it: empty tmpfs mounts over them in a private mount
  # namespace of slurmd's own (unshare execs, so the recorded pid is slurmd's).
  local hide=()
  read -r -a hide <<<"${SLURM_NODE_HIDE:-}"
  if [[ ${#hide[@]} -gt 0 ]]; then
    unshare -m --propagation private bash -c \
      'for d in "${@:2}"; do mount -t tmpfs -o size=1m,mode=0755 valence-hidden "$d" || exit 1; done; exec slurmd -D -f "$1"' \
      _ "$dir/slurm.conf" "${hide[@]}" </dev/null >>"$dir/log/slurmd.out" 2>&1 &
  else
    slurmd -D -f "$dir/slurm.conf" </dev/null >>"$dir/log/slurmd.out" 2>&1 &
  fi
  echo $! >"$dir/slurmd.pid"
  wait_for 30 "node $host to be idle" bash -c '[[ "$(sinfo -h -N -o %t | head -1)" == idle ]]' \
    || { sinfo -N -l >&2 || true; cmd_logs "$dir" >&2; return 1; }
  say "up: node $host ($(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node") CPUs), ports $ctld_port/$slurmd_port${hide[*]:+, hiding ${hide[*]} from jobs}; source $dir/env to use it"
}

cmd_stop() {
  local dir=$1 status=0
  [[ -d "$dir" ]] || return 0
  dir=$(cd "$dir" && pwd)
  if [[ -f "$dir/slurm.conf" && -f "$dir/slurmctld.pid" ]] && alive "$(cat "$dir/slurmctld.pid")"; then
    export SLURM_CONF=$dir/slurm.conf
    # Cancel every job of this private cluster and let their processes end before the daemons go.
    local jobs
    jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
    if [[ -n "$jobs" ]]; then
      say "cancelling $(wc -w <<<"$jobs") jobs"
      timeout 10 scancel $jobs 2>/dev/null || true
      wait_for 30 "cancelled jobs to end" bash -c '[[ -z "$(squeue -h -o %i)" ]]' || status=1
    fi
  fi
  # A job's slurmstepd outlives it by a moment (it detaches from slurmd): let those end first.
  wait_for 15 "the last job steps (slurmstepd) to exit" no_stepd || true
  stop_pid slurmd "$dir/slurmd.pid" || status=1
  stop_pid slurmctld "$dir/slurmctld.pid" || status=1
  stop_pid munged "$dir/munged.pid" || status=1
  [[ $status == 0 ]] && say "stopped ($dir)"
  return $status
}

cmd_logs() {
  local dir=$1 f
  for f in "$dir"/log/*; do
    [[ -s "$f" ]] || continue
    # A daemon in the foreground writes its log file and stderr (*.out) alike: show the .out only
    # when the log file is empty (it failed before opening it).
    [[ "$f" == *.out && -s "${f%.out}.log" ]] && continue
    echo "==== $f (last 40 lines)"
    tail -40 "$f"
  done
}

case "${1:-}" in
  install) cmd_install ;;
  start)   [[ $# == 2 ]] || die "usage: $0 start DIR"; cmd_start "$2" ;;
  stop)    [[ $# == 2 ]] || die "usage: $0 stop DIR"; cmd_stop "$2" ;;
  logs)    [[ $# == 2 ]] || die "usage: $0 logs DIR"; cmd_logs "$2" ;;
  *)       sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; [[ "${1:-}" =~ ^(-h|--help)$ ]] || exit 64 ;;
esac
