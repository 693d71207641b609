#!/usr/bin/env bash
# The bench's 60-step comparison with the run's directory chosen (docs/performance.md): N alternated pairs
# of `make run OBJECTIVE=psr` (built binaries, RUN under DIR) and bench/numpy_run.py, run by the Python
# the bench uses; prints every pair (ms) and the medians.
#
# As in the bench, each pair's run gets a directory of its own, all removed at the end. With
# --delete-before every pair uses one directory, removed just before its run: what a run pays right
# after a deletion (on a file system without a journal, ext4 skips the inodes freed in the last
# minute one by one).
#
#   bench/pairs.sh N DIR [--delete-before]     e.g. bench/pairs.sh 9 /dev/shm   or   bench/pairs.sh 9 bench/data
set -euo pipefail
if [[ $# -lt 2 || $# -gt 3 || ( $# -eq 3 && $3 != --delete-before ) ]]; then
  echo "usage: $0 N DIR [--delete-before]" >&2; exit 64
fi
N=$1; D=$(cd "$2" && pwd); ROOT=$(cd "$(dirname "$0")/.." && pwd); DELETE_BEFORE=${3:+1}
PY=$(python3 -c 'import sys; print(sys.executable)')  # the interpreter itself, not a shim script
R=$D/pairs-$$
trap 'rm -rf "$R" "$R"-*' EXIT
for i in $(seq "$N"); do
  if [[ -n $DELETE_BEFORE ]]; then run=$R; rm -rf "$run"; else run=$R-$i; fi
  s=$(date +%s%N); make --no-print-directory -C "$ROOT" NO_BUILD=1 CONFIG=release run RUN="$run" OBJECTIVE=psr QUIET=1 >/dev/null; e=$(date +%s%N)
  s2=$(date +%s%N); "$PY" "$ROOT/bench/numpy_run.py" --objective psr >/dev/null; e2=$(date +%s%N)
  echo "$(( (e - s) / 1000000 )) $(( (e2 - s2) / 1000000 ))"
done | python3 -c '
import sys, statistics as st
pairs = [tuple(map(float, line.split())) for line in sys.stdin]
print(" ".join("%d/%d" % p for p in pairs))
print("median make run %.0f ms, NumPy %.0f ms, ratio %.2f" % (st.median(a for a, _ in pairs), st.median(b for _, b in pairs), st.median(a / b for a, b in pairs)))
'
