#!/usr/bin/env bash
# Fuzz the shard decoder, the record and document readers and the verifier.
#
#   Tests/fuzz/fuzz.sh [--runs N] [--seed S] [--max-time SECONDS]     (or: make fuzz FUZZ_RUNS=N)
#
# Builds a libFuzzer binary from the Valence library sources and Tests/fuzz/FuzzMain.swift
# (swiftc -sanitize=fuzzer,address; without AddressSanitizer if that does not link), writes the
# seed corpus (valid examples of every input kind, DecoderFuzzing.seeds) and runs N inputs with a
# 10 s per-input timeout (a hang counts as a failure). If libFuzzer cannot be built here it falls
# back to the seeded mutation driver of the test suite (VALENCE_FUZZ_RUNS=N swift test --filter
# FuzzTests). Crashing inputs are kept in .build/fuzz/artifacts. Exit status 0 = no crash, no hang.
set -euo pipefail
RUNS=1000000
SEED=1
MAXTIME=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --max-time) MAXTIME=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "fuzz: unknown argument $1" >&2; exit 64 ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/.build/fuzz
BIN=$OUT/valence-fuzz
mkdir -p "$OUT"
SOURCES=$(find "$ROOT/Sources/Valence" -name '*.swift' | sort)
newest=$(ls -t $SOURCES "$ROOT/Tests/fuzz/FuzzMain.swift" | head -1)
build() {
  swiftc -swift-version 6 -O -parse-as-library -module-name ValenceFuzz -sanitize="$1" \
    $SOURCES "$ROOT/Tests/fuzz/FuzzMain.swift" -I "$ROOT/Sources/CZstd" -lzstd -o "$BIN" 2> "$OUT/build.log"
}
if [[ ! -x $BIN || $newest -nt $BIN ]]; then
  echo "fuzz: building $BIN (swiftc -sanitize=fuzzer,address; about a minute)"
  if ! build fuzzer,address && ! build fuzzer; then
    echo "fuzz: libFuzzer does not build here ($(head -1 "$OUT/build.log")); using the seeded mutation driver"
    cd "$ROOT"
    swift build --build-tests
    VALENCE_FUZZ_RUNS=$RUNS VALENCE_FUZZ_SEED=$SEED swift test --skip-build --filter FuzzTests
    exit $?
  fi
fi
rm -rf "$OUT/corpus" "$OUT/scratch"
mkdir -p "$OUT/corpus" "$OUT/artifacts" "$OUT/scratch"
VALENCE_FUZZ_WRITE_SEEDS=$OUT/corpus "$BIN" >/dev/null 2>&1
echo "fuzz: $RUNS inputs (seed $SEED) from $(ls "$OUT/corpus" | wc -l) seeds"
start=$(date +%s)
set +e
VALENCE_FUZZ_SCRATCH=$OUT/scratch "$BIN" "$OUT/corpus" -runs="$RUNS" -seed="$SEED" -max_total_time="$MAXTIME" \
  -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" \
  > "$OUT/fuzz.log" 2>&1
status=$?
set -e
executed=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/fuzz.log" | grep -o '[0-9]*$' || echo "?")
if [[ $status -ne 0 ]]; then
  grep -E 'ERROR|invariant|Timeout|timeout|crash' "$OUT/fuzz.log" | head -5
  echo "fuzz: FAILED after $executed inputs (log $OUT/fuzz.log, inputs in $OUT/artifacts)"
  exit 1
fi
echo "fuzz: $executed inputs in $(( $(date +%s) - start ))s: no crash, no hang, no invariant violated ($(grep -o 'cov: [0-9]*' "$OUT/fuzz.log" | tail -1))"
