#!/usr/bin/env bash
# Fault injection: SIGKILL Valence stages at seeded random points, recover, and check that the run
# ends byte-identical to an uninterrupted one.
#
#   Tests/fault/kill-test.sh [--points N] [--seed S] [--jobs J] [--mode M] [--bin DIR] [--keep]   (or: make kill-test)
#   Tests/fault/kill-test.sh --only eval.3:rename:4 [--bin DIR]   one given point (tool.step:syscall:n)
#
# --mode in-process (default) kills `valence-step`, which runs a whole step in one process (what
# `make step`, `make run` and the sweep use); --mode stages kills the separate stage executables run
# one by one (what Slurm and people running a stage by hand use).
#
# How it works. A small run (3 steps, 2 shards, grpo so that every split output is read) is built
# once without faults, with every stage traced by strace; that is the reference, and a snapshot of
# the run directory is kept before each step. A kill point is (stage, step, n): the n-th file
# syscall (openat, read, write, fsync, rename[at], unlink[at], close, mkdir) of that stage, counted from its
# first touch of the run directory, picked uniformly from the reference trace with a seeded RNG.
# Each trial restores the snapshot, runs one step (valence-init for a creation point)
# with the chosen stage under `strace -e inject=SYSCALL:signal=KILL:when=K`, so the kernel kills
# it exactly there; about one trial in three kills a second time during the recovery. strace
# follows threads (-f): update and eval read ahead on a second thread, and with --jobs 2 the two
# shards of a stage run on two threads at once (JOBS for step.sh); strace counts syscalls per
# thread, so a kill fires when any thread makes its n-th such call. Then it
# recovers the way cron would, calling step.sh until the run is complete, and checks:
#   - every file of the run (shards, manifests, checkpoints, metrics, config) is byte-identical
#     to the reference, and no other file exists (so no temporary file survived);
#   - metrics.jsonl has one line per evaluated step and no duplicate line.
# Without strace it falls back to killing after a seeded random delay (not exactly reproducible).
#
# Exit status: 0 when every triggered kill recovered identically, 1 otherwise, 64 usage.
set -euo pipefail

POINTS=60
SEED=1
MODE_PATH=in-process
JOBS_AT_ONCE=1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REAL=${VALENCE_BIN:-$ROOT/.build/release}
KEEP=0
ONLY=
while [[ $# -gt 0 ]]; do
  case $1 in
    --points) POINTS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --jobs) JOBS_AT_ONCE=$2; shift 2 ;;
    --mode) MODE_PATH=$2; shift 2 ;;
    --bin) REAL=$(cd "$2" && pwd); shift 2 ;;
    --keep) KEEP=1; shift ;;
    --only) ONLY=$2; POINTS=1; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "kill-test: unknown argument $1" >&2; exit 64 ;;
  esac
done
[[ $MODE_PATH == in-process || $MODE_PATH == stages ]] || { echo "kill-test: --mode is in-process or stages" >&2; exit 64; }
for tool in init status generate verify split weight update eval step; do
  [[ -x "$REAL/valence-$tool" ]] || { echo "kill-test: $REAL/valence-$tool: not built (make build)" >&2; exit 64; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/valence-kill.XXXXXX")
cleanup() { if [[ $KEEP == 1 ]]; then echo "kill-test: kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
RUN=$W/run
STEPS=3
FLAGS=(--objective grpo --steps $STEPS --shards 2 --train 300 --test 200 --batch 16 --group 4 --corpus 3000 --seed 7)
SYSCALLS=openat,read,write,fsync,rename,renameat,unlink,unlinkat,close,mkdir
MODE=strace
command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null || MODE=timer
RANDOM=$SEED
# R = uniform-enough draw in 0..<$1 (for $1 << 2^30). Never call it in $(...): a subshell would
# not advance the seeded sequence.
rand() { R=$(( (RANDOM << 15 | RANDOM) % $1 )); }

# Wrappers standing in for the binaries: trace (reference), kill once (trials) or pass through.
mkdir -p "$W/wrap" "$W/traces" "$W/snap"
for tool in init status generate verify split weight update eval step; do
  cat > "$W/wrap/valence-$tool" <<EOF
#!/usr/bin/env bash
tool=$tool; step=0; prev=; run=
for a in "\$@"; do [[ \$prev == --step ]] && step=\$a; [[ \$prev == --run ]] && run=\$a; prev=\$a; done
real="$REAL/valence-\$tool"
# valence-step runs the run's next step (its first call also evaluates the base: labelled step 1).
if [[ \$tool == step ]]; then step=\$("$REAL/valence-status" --run "\$run" --next); [[ \$step == 0 ]] && step=1; fi
if [[ \$tool != status && -n "\${KT_TRACE:-}" ]]; then
  exec strace -f -o "\$KT_TRACE/\$tool.\$step" -e trace=$SYSCALLS "\$real" "\$@"
fi
if [[ "\${KT_TOOL:-}" == \$tool && "\${KT_STEP:-}" == \$step && ! -e "\$KT_MARK" ]]; then
  : > "\$KT_MARK"
  if [[ -n "\${KT_DELAY:-}" ]]; then
    "\$real" "\$@" & pid=\$!
    sleep "\$KT_DELAY"; kill -KILL \$pid 2>/dev/null || true
    wait \$pid; exit \$?
  fi
  exec strace -f -o /dev/null -e trace=$SYSCALLS -e inject=\$KT_SYSCALL:signal=KILL:when=\$KT_WHEN "\$real" "\$@"
fi
exec "\$real" "\$@"
EOF
  chmod +x "$W/wrap/valence-$tool"
done

# One step the way each mode takes it: valence-step (through pipelines/step.sh), or the stage
# executables one after another, as the step driver did before valence-step existed.
one_step() {  # $1 = directory of the binaries (the wrappers or the real ones)
  if [[ $MODE_PATH == in-process ]]; then
    VALENCE_BIN=$1 "$ROOT/pipelines/step.sh" "$RUN"
  else
    local next
    next=$("$1/valence-status" --run "$RUN" --next)
    if [[ $next == 0 ]]; then "$1/valence-eval" --run "$RUN" --step 0 --quiet; next=1; fi
    [[ $next == done ]] && return 0
    for stage in generate verify split weight; do
      "$1/valence-$stage" --run "$RUN" --step "$next" --jobs "$JOBS_AT_ONCE" --quiet
    done
    "$1/valence-update" --run "$RUN" --step "$next" --quiet
    "$1/valence-eval" --run "$RUN" --step "$next" --quiet
  fi
}

# ---- Reference: one uninterrupted run, traced, with a snapshot before each step ----------------
export QUIET=1 JOBS=$JOBS_AT_ONCE
start=$(date +%s)
KT_TRACE=$W/traces "$W/wrap/valence-init" --run "$RUN" --quiet "${FLAGS[@]}"
cp -a "$RUN" "$W/snap/0"
for ((t = 1; t <= STEPS; t++)); do
  KT_TRACE=$W/traces one_step "$W/wrap" >/dev/null
  cp -a "$RUN" "$W/snap/$t"
done
mv "$RUN" "$W/ref"
[[ $("$REAL/valence-status" --run "$W/ref" --next) == done ]] || { echo "kill-test: reference run did not complete" >&2; exit 1; }

# Kill candidates per trace: "syscall occurrence" pairs from the first touch of the run directory,
# counted per thread as strace's injection counts them (lines start with the thread id under -f).
candidates() {
  awk -v run="$RUN" '
    { tid = $1; sub(/^[0-9]+ +/, "") }
    match($0, /^[a-z0-9_]+\(/) {
      name = substr($0, 1, RLENGTH - 1); count[tid, name]++
      if (!started && index($0, run) > 0) started = 1
      if (started) print name, count[tid, name]
    }' "$1"
}
declare -A NCAND
TARGETS=()
for f in "$W"/traces/*; do
  key=$(basename "$f")
  candidates "$f" > "$f.cand"
  NCAND[$key]=$(wc -l < "$f.cand")
  TARGETS+=("$key")
done
# Stage order within a step, for choosing a second kill at or after the first.
# RUN/.synced (docs/reliability.md, "Power cuts"): the step it calls synced, and whether it names
# this boot. It must never call synced a step not evaluated on disk, whatever the kill left.
synced_step() { awk '$1 == "synced" && NF == 2 { n = $2 } NF == 1 && $1 ~ /^[0-9]+$/ { n = $1 } BEGIN { n = -1 } END { print n }' "$1/.synced" 2>/dev/null || echo -1; }
names_this_boot() { grep -qx "boot $(cat /proc/sys/kernel/random/boot_id)" "$1/.synced" 2>/dev/null; }
evaluated_through() { local n; n=$("$REAL/valence-status" --run "$1" --next 2>/dev/null) || { echo -1; return; }; [[ $n == done ]] && echo "$STEPS" || echo $((n - 1)); }
order() { case $1 in init) echo 0 ;; step) echo 1 ;; generate) echo 1 ;; verify) echo 2 ;; split) echo 3 ;; weight) echo 4 ;; update) echo 5 ;; eval) echo 6 ;; esac; }

# ---- Trials ---------------------------------------------------------------------------------
kills=0 passed=0 untriggered=0 failed=0 trial=0
declare -A PER_STAGE
pick_point() {  # $1 = tool.step -> sets KT_TOOL KT_STEP KT_SYSCALL KT_WHEN (or KT_DELAY)
  KT_TOOL=${1%.*}; KT_STEP=${1#*.}
  local line
  rand "${NCAND[$1]}"
  line=$(sed -n "$((R + 1))p" "$W/traces/$1.cand")
  KT_SYSCALL=${line% *}; KT_WHEN=${line#* }
  KT_DELAY=
  if [[ $MODE == timer ]]; then rand 60; KT_DELAY=0.0$(printf '%02d' "$R"); fi
  export KT_TOOL KT_STEP KT_SYSCALL KT_WHEN KT_DELAY
}
one_pass() {  # runs the pipeline once through the wrappers; returns its status
  local status=0
  if [[ $KT_TOOL == init ]]; then
    # Both modes kill valence-init: run.sh's `valence-step --create` runs the same InitStage in
    # its own process, and recovery below goes through run.sh in in-process mode.
    ( "$W/wrap/valence-init" --run "$RUN" --quiet "${FLAGS[@]}"; exit $? ) >/dev/null 2>&1 || status=$?
  else
    ( set -e; one_step "$W/wrap" ) >/dev/null 2>&1 || status=$?
  fi
  return $status
}
while (( kills < POINTS )); do
  trial=$((trial + 1))
  rand ${#TARGETS[@]}; target=${TARGETS[$R]}
  [[ -n $ONLY ]] && target=${ONLY%%:*}
  step=${target#*.}
  rm -rf "$RUN"
  if [[ ${target%.*} != init ]]; then
    snap=$(( step > 0 ? step - 1 : 0 ))
    cp -a "$W/snap/$snap" "$RUN"
  fi
  desc=()
  pick_point "$target"
  if [[ -n $ONLY ]]; then
    KT_SYSCALL=$(echo "$ONLY" | cut -d: -f2); KT_WHEN=$(echo "$ONLY" | cut -d: -f3)
    (( trial > 1 )) && { echo "kill-test: --only $ONLY was not reached (no such syscall occurrence)"; exit 1; }
  fi
  export KT_MARK=$W/mark.$trial.1
  status=0; one_pass || status=$?
  if [[ -e $KT_MARK && $status -ne 0 ]]; then
    kills=$((kills + 1)); desc+=("$KT_TOOL step $KT_STEP at $KT_SYSCALL #$KT_WHEN")
    PER_STAGE[$KT_TOOL]=$(( ${PER_STAGE[$KT_TOOL]:-0} + 1 ))
    # Sometimes kill again while recovering: the same stage or a later one of the same step.
    rand 3
    if (( R == 0 )) && [[ $KT_TOOL != init && -z $ONLY ]]; then
      first=$(order "$KT_TOOL"); again=()
      for t in "${TARGETS[@]}"; do
        if [[ ${t#*.} == "$KT_STEP" && ${t%.*} != init ]] && (( $(order "${t%.*}") >= first )); then again+=("$t"); fi
      done
      rand ${#again[@]}
      pick_point "${again[$R]}"
      export KT_MARK=$W/mark.$trial.2
      status=0; one_pass || status=$?
      if [[ -e $KT_MARK && $status -ne 0 ]]; then
        kills=$((kills + 1)); desc+=("then $KT_TOOL step $KT_STEP at $KT_SYSCALL #$KT_WHEN")
        PER_STAGE[$KT_TOOL]=$(( ${PER_STAGE[$KT_TOOL]:-0} + 1 ))
      fi
    fi
  else
    untriggered=$((untriggered + 1))
    continue
  fi
  early=
  if [[ $MODE_PATH == in-process && -f $RUN/config.json ]] && (( $(synced_step "$RUN") > $(evaluated_through "$RUN") )); then
    early="after the kill, RUN/.synced calls step $(synced_step "$RUN") synced, but steps are evaluated through $(evaluated_through "$RUN") only"
  fi
  # Recover as a user would: a run whose creation was killed with `make run` (run.sh, whose
  # valence-step --create creates it again; by hand in stages mode: valence-init again, then the stages), any other
  # run the way cron does, taking steps until it is complete.
  unset KT_TOOL KT_STEP
  if [[ $target == init.* && $MODE_PATH == in-process ]]; then
    VALENCE_BIN=$REAL "$ROOT/pipelines/run.sh" "$RUN" "${FLAGS[@]}" >/dev/null 2>"$W/recover.err" || true
  else
    [[ $target == init.* ]] && { "$REAL/valence-init" --run "$RUN" --quiet "${FLAGS[@]}" >/dev/null 2>"$W/recover.err" || true; }
    for ((i = 0; i < STEPS + 3; i++)); do
      ( set -e; one_step "$REAL" ) >/dev/null 2>"$W/recover.err" || true
      [[ $("$REAL/valence-status" --run "$RUN" --next) == done ]] && break
    done
  fi
  problem=$early
  # RUN/.synced records the calls' history, not a result: it must name this boot (the last call
  # recorded it before writing) and call synced no step that is not evaluated.
  if [[ -n $problem ]]; then
    :
  elif ! diff -r -x .synced "$W/ref" "$RUN" > "$W/diff.txt" 2>&1; then
    problem="differs from the reference: $(head -3 "$W/diff.txt" | tr '\n' ' ')"
  elif [[ $MODE_PATH == in-process ]] && ! { names_this_boot "$RUN" && (( $(synced_step "$RUN") <= $(evaluated_through "$RUN") )); }; then
    problem="RUN/.synced does not name this boot, or calls synced a step not evaluated: $(tr '\n' ' ' < "$RUN/.synced" 2>/dev/null)"
  elif [[ $(wc -l < "$RUN/metrics.jsonl") -ne $((STEPS + 1)) || -n $(sort "$RUN/metrics.jsonl" | uniq -d) ]]; then
    problem="metrics.jsonl has missing or duplicate lines"
  fi
  if [[ -n $problem ]]; then
    failed=$((failed + ${#desc[@]}))
    echo "kill-test: FAIL trial $trial (${desc[*]}): $problem $(tail -1 "$W/recover.err" 2>/dev/null)"
    KEEP=1; cp -a "$RUN" "$W/failed.$trial"
  else
    passed=$((passed + ${#desc[@]}))
  fi
done

summary=""
for s in init step generate verify split weight update eval; do [[ -n ${PER_STAGE[$s]:-} ]] && summary+=" $s=${PER_STAGE[$s]}"; done
echo "kill-test: $kills kill points ($MODE_PATH, $MODE, seed $SEED, jobs $JOBS_AT_ONCE) in $trial trials:$summary; $passed recovered byte-identical, $failed failed, $untriggered picks not reached; $(( $(date +%s) - start ))s"
(( failed == 0 ))
