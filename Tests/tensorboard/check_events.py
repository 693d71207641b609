#!/usr/bin/env python3
"""Reads each run's TensorBoard event file with TensorBoard's own EventAccumulator and checks every
scalar against RUN/metrics.jsonl: the same tags (by Valence's tag rules), the same steps in the same
order, and values equal after rounding to float32 (TensorBoard's simple_value).

    python3 Tests/tensorboard/check_events.py RUN [RUN...]      (make test-tensorboard)

Exits 1 naming the run, tag and step of the first difference."""
import glob
import json
import struct
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

IDENTITY = {"schema", "step", "objective", "window", "seed", "split"}
BATCH = {"positives", "negatives", "solved_all", "solved_none", "solved_some"}


def base_tag(key):
    """Valence's tag rules (Sources/Valence/TensorBoard/MetricTags.swift), written again independently."""
    for prefix, group in (("pass@", "pass@k/"), ("sampled_pass@", "sampled_pass@k/")):
        if key.startswith(prefix):
            return group + key[len(prefix):]
    if key == "grad_norm":
        return "grad_norm/total"
    if key in BATCH or key.startswith("dropped_groups_"):
        return "batch/" + key
    for prefix, group in (("grad_norm_", "grad_norm/"), ("batch_", "batch/"), ("redist_", "redist/"),
                          ("entropy_", "entropy/")):
        if key.startswith(prefix):
            return group + key[len(prefix):]
    return key


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def expected(run):
    series = {}
    with open(f"{run}/metrics.jsonl") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            for key, value in rec.items():
                if key in IDENTITY or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                tag = base_tag(key) if rec["split"] == "test" else f"{rec['split']}/{base_tag(key)}"
                series.setdefault(tag, []).append((rec["step"], f32(float(value))))
    return series


def check(run):
    files = glob.glob(f"{run}/tb/events.out.tfevents.*")
    if len(files) != 1:
        sys.exit(f"{run}: expected one event file in {run}/tb, found {len(files)}")
    acc = EventAccumulator(f"{run}/tb", size_guidance={"scalars": 0})
    acc.Reload()
    want = expected(run)
    got_tags = set(acc.Tags()["scalars"])
    if got_tags != set(want):
        sys.exit(f"{run}: tags differ: missing {sorted(set(want) - got_tags)}, extra {sorted(got_tags - set(want))}")
    for tag, points in want.items():
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        if len(got) != len(points):
            sys.exit(f"{run}: {tag}: {len(got)} points in the event file, {len(points)} in metrics.jsonl")
        for (gs, gv), (ws, wv) in zip(got, points):
            if gs != ws or gv != wv:
                sys.exit(f"{run}: {tag}: event file has step {gs} = {gv!r}, metrics.jsonl step {ws} = {wv!r}")
    n = sum(len(p) for p in want.values())
    steps = sorted({s for p in want.values() for s, _ in p})
    print(f"check_events: {run}: {len(want)} tags, {n} scalars, steps {steps[0]}..{steps[-1]} match metrics.jsonl")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for run in sys.argv[1:]:
        check(run)
