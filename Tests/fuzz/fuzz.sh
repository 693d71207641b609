#!/usr/bin/env bash
# Fuzz the shard decoder, the record and document readers and the verifier.
#
#   Tests/fuzz/fuzz.sh [--runs N] [--seed S] [--max-time SECONDS]     (or: make fuzz FUZZ_RUNS=N)
#
# Builds a libFuzzer binary from the Valence library sources, the harness
# (Tests/ValenceTests/Fuzzing/DecoderFuzzing.swift) and Tests/fuzz/FuzzMain.swift
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
SOURCES="$(find "$ROOT/Sources/Valence" -name '*.swift' | sort) $ROOT/Tests/ValenceTests/Fuzzing/DecoderFuzzing.swift"
newest=$(ls -t $SOURCES "$ROOT/Tests/fuzz/FuzzMain.swift" | head -1)
build() {
  swiftc -swift-version 6 -O -parse-as-library -module-name ValenceFuzz -sanitize="$1" -D VALENCE_FUZZ_MODULE \
    $SOURCES "$ROOT/Tests/fuzz/FuzzMain.swift" -I "$ROOT/Sources/CZstd" -I "$ROOT/Sources/CSyscalls" -lzstd -o "$BIN" 2> "$OUT/build.log"
}
if [[ ! -x $BIN || $newest -nt $BIN ]]; then
  # Is libFuzzer available at all? (A compile error in the harness must fail, not fall back.)
  echo '@_cdecl("LLVMFuzzerTestOneInput") public func f(_ d: UnsafePointer<UInt8>?, _ n: Int) -> Int32 { 0 }' > "$OUT/probe.swift"
  if ! swiftc -parse-as-library -sanitize=fuzzer "$OUT/probe.swift" -o "$OUT/probe" 2> "$OUT/build.log"; then
    echo "fuzz: libFuzzer does not build here ($(head -1 "$OUT/build.log")); using the seeded mutation driver (release)"
    cd "$ROOT"
    swift build -c release --build-tests
    VALENCE_FUZZ_RUNS=$RUNS VALENCE_FUZZ_SEED=$SEED swift test -c release --skip-build --filter FuzzTests
    exit $?
  fi
  echo "fuzz: building $BIN (swiftc -sanitize=fuzzer,address; about a minute)"
  if ! build fuzzer,address && ! build fuzzer; then
    cat "$OUT/build.log" >&2
    echo "fuzz: the fuzz target does not compile" >&2
    exit 1
  fi
fi
# Scratch files (one per input) on tmpfs when there is one.
SCRATCH=$OUT/scratch
[[ -d /dev/shm && -w /dev/shm ]] && SCRATCH=$(mktemp -d /dev/shm/valence-fuzz.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
rm -rf "$OUT/corpus"
mkdir -p "$OUT/corpus" "$OUT/artifacts" "$SCRATCH"
VALENCE_FUZZ_WRITE_SEEDS=$OUT/corpus "$BIN" >/dev/null 2>&1
echo "fuzz: $RUNS inputs (seed $SEED) from $(ls "$OUT/corpus" | wc -l) seeds"
start=$(date +%s)
set +e
# MALLOC_MMAP_THRESHOLD_: the shard reader's buffers are just above glibc's mmap threshold; keep
# them on the heap so that each input does not map, fault in and unmap fresh pages.
MALLOC_MMAP_THRESHOLD_=67108864 VALENCE_FUZZ_SCRATCH=$SCRATCH "$BIN" "$OUT/corpus" -runs="$RUNS" -seed="$SEED" -max_total_time="$MAXTIME" \
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
