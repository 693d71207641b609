#!/bin/bash
# Checks that two runs of the same config hold the same results, whatever their shard counts.
#
#   pipelines/slurm/same-run.sh RUN_A RUN_B
#
# Compared byte for byte: the task shards, every checkpoint (policy and optimizer state), every
# step's eval metrics and RUN/metrics.jsonl; and, for every sharded stage directory of every step,
# the decompressed concatenation of its parts in shard order (shards are contiguous slices of the
# canonical (prompt, sample) order, so this is the same stream for any shard count). Manifests are
# not compared: they name their part files, which differ with the shard count. Needs zstd.
# Exit 0 when identical, 1 with the first differences listed otherwise.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 RUN_A RUN_B" >&2
  exit 64
fi
A=$1 B=$2
command -v zstd >/dev/null || { echo "same-run: zstd not found (make deps installs it)" >&2; exit 69; }
for r in "$A" "$B"; do
  [[ -f "$r/config.json" ]] || { echo "same-run: $r/config.json: no run here" >&2; exit 66; }
done

# The comparable items of a run, one relative path a line: plain files, and "DIR/*" for the
# concatenated parts of a sharded stage directory.
items() {
  (cd "$1" && {
    ls task/*.jsonl.zst metrics.jsonl 2>/dev/null || true
    find steps -path '*/checkpoint/*.jsonl.zst' -o -path '*/eval/metrics.jsonl' 2>/dev/null
    find steps -name 'part-*.jsonl.zst' 2>/dev/null | sed 's|/[^/]*$|/*|' | sort -u
  }) | sort
}

differences=0
differ() { echo "same-run: $1" >&2; differences=$((differences + 1)); }
listA=$(items "$A")
listB=$(items "$B")
if [[ "$listA" != "$listB" ]]; then
  diff <(echo "$listA") <(echo "$listB") | sed 's/^/same-run: items: /' | head -10 >&2
  differ "the runs hold different sets of files ($A: <, $B: >)"
fi
checked=0
while read -r item; do
  [[ -n "$item" ]] || continue
  if [[ "$item" == *'/*' ]]; then
    dir=${item%/\*}
    if ! cmp -s <(zstd -dcq "$A/$dir"/part-*.jsonl.zst) <(zstd -dcq "$B/$dir"/part-*.jsonl.zst); then
      differ "$dir: the records differ"
    fi
  elif [[ -f "$B/$item" ]] && ! cmp -s "$A/$item" "$B/$item"; then
    differ "$item: the bytes differ"
  fi
  checked=$((checked + 1))
  [[ $differences -ge 10 ]] && break
done <<<"$listA"

if [[ $differences -gt 0 ]]; then
  echo "same-run: $A and $B differ ($differences differences)" >&2
  exit 1
fi
echo "same-run: $A and $B are identical ($checked items)"
