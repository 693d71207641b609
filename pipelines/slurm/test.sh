#!/bin/bash
# make test-slurm: the Slurm pipeline on a real one-node Slurm cluster started here.
#
#   pipelines/slurm/test.sh          (root; VALENCE_BIN = the built binaries, as make exports it)
#
# 1. installs slurmctld slurmd slurm-client munge where missing (Debian packages) and starts a
#    throw-away cluster (cluster.sh) under a temporary directory, whose node sees neither the build
#    directory nor the Swift toolchain (hidden in slurmd's mount namespace), so jobs must use the
#    binaries staged into the run directory;
# 2. runs the same 3-step run locally (pipelines/run.sh, 1 shard; and 4 shards with JOBS=2, as
#    make -j2 would) and through Slurm with 4 shards (submit.sh), and checks the results are
#    identical (same-run.sh); a second submission while jobs are queued must be refused;
# 3. resumes: deletes the last step's evaluation and one shard's weight output, resubmits, and checks
#    that only the missing work is redone and the results are still identical;
# 4. prints the time per step locally and on Slurm (the scheduling overhead);
# and always (trap) cancels the jobs and stops the daemons it started, printing the cluster's logs
# when anything failed. Every wait has a timeout. Not root: prints SKIPPED and exits 0.
#
# Environment: SLURM_TEST_TIMEOUT (seconds to wait for a Slurm run, default 300), KEEP=1 (keep the
# temporary directory even on success).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
BIN=$(cd "${VALENCE_BIN:-$HERE/../../.build/release}" && pwd)
TIMEOUT=${SLURM_TEST_TIMEOUT:-300}
STEPS=3 SHARDS=4 SEED=5
T0=$EPOCHREALTIME

say() { echo "test-slurm: $*"; }
fail() { echo "test-slurm: FAILED: $*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'; }

if [[ $(id -u) != 0 ]]; then
  say "SKIPPED: needs root (it installs Slurm and munge and starts their daemons)"
  exit 0
fi
[[ -x "$BIN/valence-eval" ]] || fail "$BIN/valence-eval: not built (run: make build)"
command -v zstd >/dev/null || fail "zstd not found (run: make deps)"

timeout 900 "$HERE/cluster.sh" install || fail "could not install Slurm"

W=$(mktemp -d /tmp/valence-test-slurm.XXXXXX)
CLUSTER=$W/cluster
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ $status != 0 ]]; then
    echo "test-slurm: ---- cluster logs ----" >&2
    "$HERE/cluster.sh" logs "$CLUSTER" >&2 || true
    for log in "$W"/slurm/.slurm/logs/*.out; do
      [[ -f "$log" ]] && grep -qiE 'error|fail' "$log" && { echo "==== $log" >&2; tail -20 "$log" >&2; }
    done
  fi
  timeout 120 "$HERE/cluster.sh" stop "$CLUSTER" || { echo "test-slurm: FAILED to stop the cluster" >&2; status=1; }
  if [[ $status == 0 && "${KEEP:-0}" != 1 ]]; then rm -rf "$W"; else echo "test-slurm: kept $W" >&2; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The node must not need the build directory or the Swift toolchain: hide both from it (and so from
# every job), as on a compute node that has neither.
hide=$(cd "$BIN" && pwd -P)
swiftlib=$(ldd "$BIN/valence-eval" | awk '$1 == "libswiftCore.so" {print $3}')
[[ -n "$swiftlib" ]] && hide+=" $(dirname "$(readlink -f "$swiftlib")")"
command -v swift >/dev/null && hide+=" $(dirname "$(readlink -f "$(command -v swift)")")"
if unshare -m --propagation private true 2>/dev/null; then
  export SLURM_NODE_HIDE=$hide
else
  say "note: no mount namespaces here, so the node sees the build directory and Swift"
fi
"$HERE/cluster.sh" start "$CLUSTER"
# shellcheck source=/dev/null
source "$CLUSTER/env"
say "cluster up after $(elapsed "$T0")s"

INIT=(--steps "$STEPS" --seed "$SEED")

# wait_done RUN: until the run is complete; fails when its jobs are gone first or time runs out.
wait_done() {
  local run=$1 prefix deadline
  prefix=$(slurm_job_prefix "$run")
  deadline=$((SECONDS + TIMEOUT))
  while [[ "$("$BIN/valence-status" --run "$run" --next)" != done ]]; do
    if [[ -z "$(slurm_run_jobs "$prefix")" ]]; then
      sleep 1   # the last job may have just finished
      [[ "$("$BIN/valence-status" --run "$run" --next)" == done ]] && break
      "$HERE/status.sh" "$run" >&2 || true
      fail "$run: its jobs left the queue before the run was complete"
    fi
    if ((SECONDS >= deadline)); then
      "$HERE/status.sh" "$run" >&2 || true
      sinfo -N -l >&2 || true
      fail "$run: not complete after ${TIMEOUT}s (SLURM_TEST_TIMEOUT)"
    fi
    sleep 0.2
  done
}

# Reference runs on this machine.
t=$EPOCHREALTIME
QUIET=1 "$HERE/../run.sh" "$W/local" "${INIT[@]}" --shards 1 >/dev/null || fail "the local reference run failed"
local1=$(elapsed "$t")
t=$EPOCHREALTIME
QUIET=1 JOBS=2 "$HERE/../run.sh" "$W/local-j2" "${INIT[@]}" --shards "$SHARDS" >/dev/null || fail "the local $SHARDS-shard run failed"
localj=$(elapsed "$t")
"$HERE/same-run.sh" "$W/local" "$W/local-j2" >/dev/null || fail "local runs with 1 and $SHARDS shards differ"

# The Slurm run, submitted whole.
t=$EPOCHREALTIME
VALENCE_BIN=$BIN "$HERE/submit.sh" "$W/slurm" "${INIT[@]}" --shards "$SHARDS" || fail "submission failed"
set +e
VALENCE_BIN=$BIN "$HERE/submit.sh" "$W/slurm" "${INIT[@]}" --shards "$SHARDS" 2>"$W/second.err"
second=$?
set -e
[[ $second == 75 ]] || fail "a second submission while jobs are queued exited $second, expected 75 (busy): $(cat "$W/second.err")"
say "second submission refused while queued (exit 75)"
VALENCE_BIN=$BIN "$HERE/status.sh" "$W/slurm" | sed 's/^/  /'
wait_done "$W/slurm"
slurm=$(elapsed "$t")
"$HERE/status.sh" "$W/slurm" >/dev/null || fail "slurm-status says the complete run is not complete"
"$HERE/same-run.sh" "$W/local" "$W/slurm" || fail "the Slurm run differs from the local run"

# Per-step wall time on Slurm, from the job logs: end of step N's update-eval minus end of step N-1's.
steps_wall=$(grep -h '^valence-slurm: end .* update-eval' "$W"/slurm/.slurm/logs/*update*.out "$W"/slurm/.slurm/logs/*eval*.out \
  | sort -u | awk '{print $5, $3}' | sort -n \
  | awk 'NR > 1 {printf "%s%.2f", sep, $2 - last; sep = " "} {last = $2}')

# Resume: lose the last step's evaluation and shard 2's weight output, resubmit.
last=$W/slurm/$(printf 'steps/%06d' "$STEPS")
part=$(printf 'part-%05d-of-%05d' 2 "$SHARDS")
rm -f "$last/eval/MANIFEST.json" "$last/weighted/$part.manifest.json" "$last"/weighted/*/"$part".jsonl.zst
[[ "$("$BIN/valence-status" --run "$W/slurm" --next)" == "$STEPS" ]] || fail "deleting step $STEPS's eval did not reopen it"
ls "$W"/slurm/.slurm/logs/ >"$W/logs.before"
VALENCE_BIN=$BIN "$HERE/submit.sh" "$W/slurm" | tee "$W/resubmit.out"
grep -q "submitted steps $STEPS..$STEPS" "$W/resubmit.out" || fail "the resubmission did not resume at step $STEPS"
wait_done "$W/slurm"
new_logs=$(ls "$W"/slurm/.slurm/logs/ | grep -vxF -f "$W/logs.before" || true)
[[ $(wc -w <<<"$new_logs") == $((SHARDS + 1)) ]] || fail "the resubmission ran $(wc -w <<<"$new_logs") jobs, expected $((SHARDS + 1)): $new_logs"
(cd "$W/slurm/.slurm/logs" && cat $new_logs) >"$W/resumed.log"
skipped=$(grep -c 'is up to date' "$W/resumed.log" || true)
expected=$((4 * SHARDS - 1 + 1))   # every stage part but shard 2's weight, and update (same inputs again)
if [[ $skipped != "$expected" ]] || ! grep -q "^weight: step $STEPS part 3/$SHARDS: " "$W/resumed.log"; then
  cat "$W/resumed.log" >&2
  fail "the resumed step skipped $skipped stage parts (expected $expected) or did not redo shard 2's weight"
fi
"$HERE/same-run.sh" "$W/local" "$W/slurm" || fail "the resumed Slurm run differs from the local run"
VALENCE_BIN=$BIN "$HERE/submit.sh" "$W/slurm" | grep -q "nothing to submit" || fail "resubmitting a complete run submitted something"
say "resume: $skipped stage parts up to date, the rest redone; results still identical; complete run: nothing to submit"

per() { awk -v t="$1" -v n="$STEPS" 'BEGIN { printf "%.2f", t / n }'; }
say "times for $STEPS steps (+ base eval): local 1 shard ${local1}s ($(per "$local1") s/step);" \
    "local $SHARDS shards JOBS=2 ${localj}s ($(per "$localj") s/step); Slurm $SHARDS shards ${slurm}s ($(per "$slurm") s/step)"
say "Slurm per-step wall (update-eval end to end): $steps_wall s; overhead vs local ≈ $(awk -v s="$slurm" -v l="$local1" -v n="$STEPS" 'BEGIN { printf "%.2f", (s - l) / n }') s/step"
say "PASSED in $(elapsed "$T0")s"
