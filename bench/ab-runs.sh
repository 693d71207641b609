#!/usr/bin/env bash
# Side-by-side cost of fresh 60-step runs with different builds (docs/performance.md, "Research-speed runs").
#
#   bench/ab-runs.sh N DIR BINDIR...   e.g. bench/ab-runs.sh 21 /dev/shm /tmp/old-bin .build/release
#
# Runs `valence-step --run DIR/... --all --create --objective psr` N times per build, alternating the
# builds, each into a fresh directory under DIR (tmpfs or the disk under test), under `perf stat`; prints
# per build the median wall time, CPU time (task-clock) and page faults.
set -euo pipefail
if [[ $# -lt 3 ]]; then echo "usage: $0 N DIR BINDIR..." >&2; exit 64; fi
N=$1; D=$2; shift 2
command -v perf >/dev/null || { echo "$0: needs perf (Debian: linux-perf)" >&2; exit 69; }
T=$(mktemp)
trap 'rm -rf "$T" "$D"/ab-runs-$$-*' EXIT
for _ in $(seq "$N"); do
  k=0
  for B in "$@"; do
    k=$((k + 1)); R=$D/ab-runs-$$-$k; rm -rf "$R"
    s=$(date +%s%N)
    perf stat -x, -e task-clock,page-faults -o "$T" "$B/valence-step" --run "$R" --all --create --objective psr --quiet >/dev/null
    e=$(date +%s%N)
    echo "$k $(awk -F, '/task-clock/{c=$1} /page-faults/{p=$1} END{print c, p}' "$T") $(( (e - s) / 1000 ))"
  done
done | python3 -c '
import sys, statistics as st, collections
d = collections.defaultdict(list)
for line in sys.stdin:
    k, cpu, faults, us = line.split()
    d[k].append((float(us) / 1e6, float(cpu), float(faults)))
names = sys.argv[1:]
for k in sorted(d, key=int):
    runs = d[k]
    print(f"{names[int(k) - 1]:32s} wall {st.median(r[0] for r in runs):.3f} s  cpu {st.median(r[1] for r in runs):.0f} ms  "
          f"faults {st.median(r[2] for r in runs):.0f}  n={len(runs)}")
' "$@"
