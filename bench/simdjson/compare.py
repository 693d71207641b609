#!/usr/bin/env python3
"""Valence's rollout decoders against simdjson On-Demand, decode only: `make bench-codec`.

Builds nothing itself (make builds the release binaries and bench/simdjson/decode); see
docs/performance.md, "Codec choice: simdjson measured". Both programs decompress the same shard
into memory once and time decoding its lines (best of REPS); their checksums of the decoded values
must agree. Inputs: the shard as Valence writes it (canonical key order) and a `jq -c -S .`
rewrite of it (sorted keys: Valence's fast path declines every line, so both sides parse general
JSON). With CALLGRIND=1 each decoder also runs under callgrind with 1 and 2 passes; the difference
divided by the records is its instructions per record (exact: the host's noise does not reach it).

Environment: VALENCE_BIN (release binaries), DECODE (the simdjson program), DECODE_NATIVE
(optional, the same built with -march=native), REPS (5), CALLGRIND (1), CODEC_SHARD (a shard to
use instead of generating bench/data/codec: 100k rollouts, step 1 through weight).
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("VALENCE_BIN", os.path.join(ROOT, ".build", "release"))
DECODE = os.environ.get("DECODE", os.path.join(ROOT, ".build", "bench-codec", "decode"))
DECODE_NATIVE = os.environ.get("DECODE_NATIVE", "")
REPS = int(os.environ.get("REPS", "5"))
CALLGRIND = os.environ.get("CALLGRIND", "1") not in ("", "0", "no")
DATA = os.path.join(ROOT, "bench", "data", "codec")
LINE = re.compile(r"^(\S+): (\d+) records, ([0-9.]+) ns/record .*checksum ([0-9a-f]{16})")


def check(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"bench-codec: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def default_shard():
    """The weighted negative shard of a 100k-rollout step (BATCH=200 GROUP=500), made once."""
    shard = os.path.join(DATA, "steps", "000001", "weighted", "negative", "part-00000-of-00001.jsonl.zst")
    if os.path.exists(shard):
        return shard
    shutil.rmtree(DATA, ignore_errors=True)
    check([os.path.join(BIN, "valence-init"), "--run", DATA, "--batch", "200", "--group", "500",
           "--train", "2000", "--steps", "1", "--shards", "1", "--quiet"])
    for stage in ["generate", "verify", "split", "weight"]:
        check([os.path.join(BIN, "valence-" + stage), "--run", DATA, "--step", "1", "--quiet"])
    return shard


def sorted_copy(shard):
    """The same records with sorted keys (jq -c -S .), next to the data, made once per shard."""
    out = os.path.join(DATA, "sorted-" + os.path.basename(os.path.dirname(shard)) + ".jsonl.zst")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(shard):
        return out
    os.makedirs(DATA, exist_ok=True)
    check(["bash", "-o", "pipefail", "-c", 'zstd -dc "$1" | jq -c -S . | zstd -q -1 -f -o "$2"', "-", shard, out + ".tmp"])
    os.replace(out + ".tmp", out)
    return out


def decoders():
    """(label, command taking the shard and a repetition count) for every decoder timed."""
    valence = os.path.join(BIN, "valence-bench-codec")
    rows = [
        ("Valence, canonical path (what stages call)", lambda f, n: [valence, f, "--reps", str(n), "--decoder", "canonical"]),
        ("Valence, general decoder only", lambda f, n: [valence, f, "--reps", str(n), "--decoder", "general"]),
        ("simdjson On-Demand, per line (-O3)", lambda f, n: [DECODE, f, str(n)]),
        ("simdjson On-Demand, iterate_many (-O3)", lambda f, n: [DECODE, f, str(n), "--many"]),
    ]
    if DECODE_NATIVE:
        rows.append(("simdjson On-Demand, per line (-O3 -march=native)", lambda f, n: [DECODE_NATIVE, f, str(n)]))
    return rows


def timed(cmd):
    out = check(cmd).stdout.strip().splitlines()[-1]
    m = LINE.match(out)
    if not m:
        sys.exit(f"bench-codec: unexpected output from {cmd[0]}: {out}")
    return int(m.group(2)), float(m.group(3)), m.group(4)


def instructions(cmd):
    """Instructions of one decoding pass: callgrind totals with 2 passes minus with 1."""
    totals = []
    for n in (1, 2):
        p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + cmd(n),
                           capture_output=True, text=True)
        m = re.search(r"Collected : (\d+)", p.stderr)
        if p.returncode != 0 or not m:
            sys.exit(f"bench-codec: callgrind failed on {' '.join(cmd(n))}: {p.stderr.strip()[-500:]}")
        totals.append(int(m.group(1)))
    return totals[1] - totals[0]


def main():
    shard = os.environ.get("CODEC_SHARD") or default_shard()
    inputs = [("canonical", shard), ("jq -S", sorted_copy(shard))]
    if CALLGRIND and not shutil.which("valgrind"):
        print("bench-codec: valgrind not found; instructions per record skipped (CALLGRIND=0)")
    use_callgrind = CALLGRIND and shutil.which("valgrind")
    print(f"shard: {os.path.relpath(shard, ROOT)} (and its jq -c -S . rewrite); best of {REPS}")
    results = {}
    checksums = {}
    records = {}
    for label, cmd in decoders():
        for name, path in inputs:
            n, ns, checksum = timed(cmd(path, REPS))
            ir = instructions(lambda k: cmd(path, k)) / n if use_callgrind else None
            results[(label, name)] = (ns, ir)
            checksums.setdefault(name, set()).add(checksum)
            records[name] = n
    for name, sums in checksums.items():
        if len(sums) != 1:
            sys.exit(f"bench-codec: decoders disagree on the {name} input (checksums {sorted(sums)})")
    width = max(len(label) for label, _ in decoders())
    head = f"{'decoder':<{width}} | ns/rec canonical | ns/rec jq -S | instr/rec canonical | instr/rec jq -S"
    print(head)
    print("-" * len(head))
    for label, _ in decoders():
        (ns_c, ir_c), (ns_s, ir_s) = results[(label, "canonical")], results[(label, "jq -S")]
        fmt = lambda ir: f"{ir:,.0f}" if ir is not None else "-"
        print(f"{label:<{width}} | {ns_c:16.1f} | {ns_s:12.1f} | {fmt(ir_c):>19} | {fmt(ir_s):>15}")
    print(f"{records['canonical']} records; every decoder gave the same checksum on each input "
          f"({', '.join(f'{k}: {next(iter(v))}' for k, v in checksums.items())})")


if __name__ == "__main__":
    main()
