#!/usr/bin/env python3
"""Python baseline for `make bench`: the streaming stages redone with orjson + zstandard.

This is a benchmark yardstick, never part of the pipeline. Each stage does the same work as its
Swift counterpart on the same input shards: stream-decompress, parse every JSONL record, run the
same checks (schema, run, step, canonical order, operands, token vocabulary, finite log-probs,
counts), do the stage's work, re-encode with the same key order and stream-compress at zstd level 1
with a frame checksum. Outputs go to a separate directory so the Swift run is left untouched.

    baseline.py STAGE RUN_DIR OUT_DIR [--step N] [--shard I]
    STAGE: generate | verify | split | weight | update
"""
import argparse
import io
import json
import math
import os
import sys

import orjson
import zstandard


def part(shard, shards):
    return f"part-{shard:05d}-of-{shards:05d}"


def read_lines(path):
    """Yields each non-blank line of a zstd JSONL shard (streamed)."""
    with open(path, "rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=1 << 17)
        for line in io.BufferedReader(reader, buffer_size=1 << 17):
            if line.strip():
                yield line


class Writer:
    """A zstd level-1 JSONL shard with a checksum, records buffered in 128 KiB chunks."""

    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.file = open(path, "wb")
        self.stream = zstandard.ZstdCompressor(level=1, write_checksum=True).stream_writer(self.file)
        self.pending = []
        self.size = 0
        self.records = 0

    def write(self, record):
        line = orjson.dumps(record)
        self.pending.append(line)
        self.pending.append(b"\n")
        self.size += len(line) + 1
        self.records += 1
        if self.size >= 1 << 17:
            self.stream.write(b"".join(self.pending))
            self.pending.clear()
            self.size = 0

    def close(self):
        self.stream.write(b"".join(self.pending))
        self.stream.flush(zstandard.FLUSH_FRAME)
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()


def load_config(run):
    with open(os.path.join(run, "config.json"), "rb") as f:
        return json.load(f)


def load_prompts(run, with_answers):
    a, b, answers = [], [], []
    for line in read_lines(os.path.join(run, "task", "train.jsonl.zst")):
        r = orjson.loads(line)
        if r["schema"] != "valence.prompt/1" or r["id"] != len(a):
            raise ValueError("bad prompt record")
        a.append(r["a"])
        b.append(r["b"])
        if with_answers:
            answers.append(int(r["answer"]))
    return a, b, answers


class RolloutReader:
    """Decodes and checks rollouts like StageEnvironment.forEachRollout + Rollout.decode."""

    def __init__(self, run_id, step, schema):
        self.run_id, self.step, self.schema = run_id, step, schema
        self.last = (-1, -1)

    def records(self, path):
        for line in read_lines(path):
            r = orjson.loads(line)
            if r["schema"] != self.schema:
                raise ValueError(f"schema {r['schema']}")
            if r["run"] != self.run_id or r["step"] != self.step:
                raise ValueError("record from another run or step")
            for key in ("prompt", "sample", "a", "b"):
                if type(r[key]) is not int:
                    raise ValueError(f"{key} is not an integer")
            order = (r["prompt"], r["sample"])
            if order <= self.last:
                raise ValueError("rollout out of order")
            self.last = order
            tokens, logp = r["tokens"], r["logp"]
            if not isinstance(r["text"], str):
                raise ValueError("text is not a string")
            for t in tokens:
                if type(t) is not int or t < 0 or t > 9:
                    raise ValueError(f"token {t}")
            for v in logp:
                if not (math.isfinite(v) and v <= 0):
                    raise ValueError(f"log-probability {v}")
            if len(tokens) != len(logp):
                raise ValueError("tokens and logp differ in length")
            if self.schema != "valence.rollout/1":
                verdict = r["verdict"]
                if verdict not in ("correct", "wrong", "malformed"):
                    raise ValueError(f"verdict {verdict}")
                if r["reward"] != (1 if verdict == "correct" else 0):
                    raise ValueError("reward contradicts verdict")
            if self.schema == "valence.weighted/1" and not math.isfinite(r["adv"]):
                raise ValueError("adv")
            yield r


def verdict_of(text, length, answer):
    if len(text) != length or not (text.isascii() and text.isdigit()):
        return "malformed"
    return "correct" if int(text) == answer else "wrong"


def stage_verify(run, out, step, shard, cfg):
    shards = cfg["shards"]
    a, b, answers = load_prompts(run, with_answers=True)
    length = cfg["digits"] + 1
    src = os.path.join(run, "steps", f"{step:06d}", "rollouts", part(shard, shards) + ".jsonl.zst")
    w = Writer(os.path.join(out, "verified", part(shard, shards) + ".jsonl.zst"))
    counts = {"correct": 0, "wrong": 0, "malformed": 0}
    for r in RolloutReader(cfg["run"], step, "valence.rollout/1").records(src):
        p = r["prompt"]
        if not 0 <= p < len(a) or a[p] != r["a"] or b[p] != r["b"]:
            raise ValueError("operands differ from the train prompt")
        v = verdict_of(r["text"], length, answers[p])
        counts[v] += 1
        r["schema"] = "valence.verified/1"
        r["verdict"] = v
        r["reward"] = 1 if v == "correct" else 0
        w.write(r)
    w.close()
    return w.records


def stage_split(run, out, step, shard, cfg):
    shards = cfg["shards"]
    src = os.path.join(run, "steps", f"{step:06d}", "verified", part(shard, shards) + ".jsonl.zst")
    pos = Writer(os.path.join(out, "split", "positive", part(shard, shards) + ".jsonl.zst"))
    neg = Writer(os.path.join(out, "split", "negative", part(shard, shards) + ".jsonl.zst"))
    groups = Writer(os.path.join(out, "split", "groups", part(shard, shards) + ".jsonl.zst"))
    group = None
    n = 0

    def flush():
        if group is not None:
            groups.write(group)

    for r in RolloutReader(cfg["run"], step, "valence.verified/1").records(src):
        n += 1
        if group is None or r["prompt"] != group["prompt"]:
            flush()
            group = {"schema": "valence.group/1", "run": cfg["run"], "step": step, "prompt": r["prompt"],
                     "samples": 0, "correct": 0, "wrong": 0, "malformed": 0}
        group["samples"] += 1
        group[r["verdict"]] += 1
        (pos if r["reward"] == 1 else neg).write(r)
    flush()
    for w in (pos, neg, groups):
        w.close()
    return n


def _grpo(reward, correct, group, lam):
    mean = correct / group
    return (reward - mean) / (math.sqrt(mean * (1 - mean)) + 1e-6)


# Advantage rules by objective (docs/model.md 5 table): (function, reads group counts). topr, ppo, passk and
# nsr-ul need more than A(r, c) from a shard (the ratio, a critic, k, the unlikelihood loss) and
# are not part of the baseline: an objective missing here is refused, never silently replaced.
ADVANTAGES = {
    "psr": (lambda reward, correct, group, lam: 1.0 if reward == 1 else 0.0, False),
    "nsr": (lambda reward, correct, group, lam: 0.0 if reward == 1 else -1.0, False),
    "reinforce": (lambda reward, correct, group, lam: 1.0 if reward == 1 else -1.0, False),
    "w-reinforce": (lambda reward, correct, group, lam: lam if reward == 1 else -1.0, False),
    "grpo": (_grpo, True),
    "rloo": (lambda reward, correct, group, lam: reward - (correct - reward) / (group - 1), True),
    "dr-grpo": (lambda reward, correct, group, lam: reward - correct / group, True),
}


def advantage_rule(objective):
    try:
        return ADVANTAGES[objective]
    except KeyError:
        raise SystemExit(f"baseline.py: objective {objective!r} has no advantage rule here "
                         f"(known: {', '.join(ADVANTAGES)})") from None


def stage_weight(run, out, step, shard, cfg):
    shards, objective = cfg["shards"], cfg["objective"]
    kinds = [k for k in ("positive", "negative")
             if not (k == "positive" and objective == "nsr") and not (k == "negative" and objective == "psr")]
    rule, reads_groups = advantage_rule(objective)
    correct_by_prompt = {}
    if reads_groups:
        path = os.path.join(run, "steps", f"{step:06d}", "split", "groups", part(shard, shards) + ".jsonl.zst")
        for line in read_lines(path):
            g = orjson.loads(line)
            correct_by_prompt[g["prompt"]] = g["correct"]
    n = 0
    for kind in kinds:
        src = os.path.join(run, "steps", f"{step:06d}", "split", kind, part(shard, shards) + ".jsonl.zst")
        w = Writer(os.path.join(out, "weighted", kind, part(shard, shards) + ".jsonl.zst"))
        for r in RolloutReader(cfg["run"], step, "valence.verified/1").records(src):
            if (r["reward"] == 1) != (kind == "positive"):
                raise ValueError("reward in the wrong shard")
            r["schema"] = "valence.weighted/1"
            r["adv"] = rule(r["reward"], correct_by_prompt.get(r["prompt"], 0), cfg["group"], cfg["lambda"])
            w.write(r)
            n += 1
        w.close()
    return n


def rows_of(a, b, length):
    rows = []
    for j in range(length):
        p = 10 ** (length - 1 - j)
        rows.append((j * 10 + (a // p) % 10) * 10 + (b // p) % 10)
    return rows


def stage_update(run, out, step, shard, cfg):
    shards = cfg["shards"]
    length = cfg["digits"] + 1
    row_count = length * 100
    token_sums = [0.0] * (row_count * 10)
    row_sums = [0.0] * row_count
    n = 0
    for s in range(shards):
        for kind in ("positive", "negative"):
            src = os.path.join(run, "steps", f"{step:06d}", "weighted", kind, part(s, shards) + ".jsonl.zst")
            if not os.path.exists(src):
                continue
            last_prompt, rows = -1, []
            for r in RolloutReader(cfg["run"], step, "valence.weighted/1").records(src):
                if r["prompt"] != last_prompt:
                    rows = rows_of(r["a"], r["b"], length)
                    last_prompt = r["prompt"]
                adv = r["adv"]
                for row, tok in zip(rows, r["tokens"]):
                    token_sums[row * 10 + tok] += adv
                    row_sums[row] += adv
                n += 1
    return n


def stage_generate(run, out, step, shard, cfg):
    shards, group = cfg["shards"], cfg["group"]
    length = cfg["digits"] + 1
    logits = []
    for line in read_lines(os.path.join(run, "steps", f"{step - 1:06d}", "checkpoint", "policy.jsonl.zst")):
        logits.append(orjson.loads(line)["logits"])
    logp, cdf = [], []
    for z in logits:
        m = max(z)
        e = [math.exp(v - m) for v in z]
        s = sum(e)
        logp.append([v - m - math.log(s) for v in z])
        acc, c = 0.0, []
        for v in e:
            acc += v / s
            c.append(acc)
        cdf.append(c)
    a, b, _ = load_prompts(run, with_answers=False)
    batch = cfg["batch"]
    ids = list(range(batch))  # the same number of prompts as the real draw
    mine = ids[batch * shard // shards: batch * (shard + 1) // shards]
    w = Writer(os.path.join(out, "rollouts", part(shard, shards) + ".jsonl.zst"))
    state = cfg["seed"] * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF
    for p in mine:
        rows = rows_of(a[p], b[p], length)
        for s in range(group):
            tokens, lp = [], []
            for row in rows:
                # splitmix64 draw
                state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
                z = state
                z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
                z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
                u = ((z ^ (z >> 31)) >> 11) * (1.0 / (1 << 53))
                c = cdf[row]
                k = 0
                while k < 9 and u >= c[k]:
                    k += 1
                tokens.append(k)
                lp.append(logp[row][k])
            w.write({"schema": "valence.rollout/1", "run": cfg["run"], "step": step, "prompt": p, "sample": s,
                     "a": a[p], "b": b[p], "text": "".join(map(str, tokens)), "tokens": tokens, "logp": lp})
    w.close()
    return w.records


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["generate", "verify", "split", "weight", "update"])
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--step", type=int, default=1)
    ap.add_argument("--shard", type=int, default=0)
    args = ap.parse_args()
    cfg = load_config(args.run)
    fn = globals()["stage_" + args.stage]
    n = fn(args.run, args.out, args.step, args.shard, cfg)
    print(n)


if __name__ == "__main__":
    sys.exit(main())
