#!/usr/bin/env python3
"""`make bench`: throughput, memory and scaling of the streaming stages against their targets.

Builds nothing itself (make builds release first). Creates real run directories with valence-init
(large BATCH x GROUP so every stage works on real shards), runs each stage with repetitions on
1M records, once on 10M records, 1 shard against 2 shards with --jobs 2 in interleaved pairs (with
a zstd -dc reference of the machine's own 2-core scaling), and whole 1M-rollout steps
(pipelines/step.sh, each followed by zstd -dc of what it read); runs the orjson + zstandard
baseline (bench/baseline.py) on the same files; and measures the zstd floor (`zstd -dc` of a
stage's inputs, `zstd -1` of its outputs).
Prints a table and writes bench/results.json. Timings are best-of-N wall clock; peak RSS comes from
wait4() (the child's ru_maxrss).

Research speed (docs/performance.md, "Research-speed runs"): a default 60-step `make run OBJECTIVE=psr`
against bench/numpy_run.py (the same run in memory with NumPy) in alternated pairs; the in-process cost
of a step at B x G = 512, at steps 1-20 and 981-1000 of a 1000-step run; `make step` (as cron calls
it) at steps 10-12 and 998-1000; and the runs of `make compare` and `make ablation` through the sweep.

Environment: BENCH_DIR (data, default bench/data), REPS (default 5: on the shared 2-core VMs this runs
on, consecutive runs of the same stage differ by up to 1.5x in CPU time), PY_REPS (default 1),
STEP_REPS (whole steps, default 3), RUN_PAIRS (run vs NumPy pairs, default 5),
BENCH_10M=0 to skip the 10M-record runs, BENCH_STAGES=0 to skip the 1M-record stage measurements,
BENCH_RESEARCH=0 to skip the research-speed ones, VALENCE_BIN (default .build/release).
"""
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("VALENCE_BIN", os.path.join(ROOT, ".build", "release"))
DATA = os.path.abspath(os.environ.get("BENCH_DIR", os.path.join(ROOT, "bench", "data")))
REPS = int(os.environ.get("REPS", "5"))
PY_REPS = int(os.environ.get("PY_REPS", "1"))
STEP_REPS = int(os.environ.get("STEP_REPS", "3"))
BIG = os.environ.get("BENCH_10M", "1") != "0"
STAGE_BENCH = os.environ.get("BENCH_STAGES", "1") != "0"
RESEARCH = os.environ.get("BENCH_RESEARCH", "1") != "0"
RUN_PAIRS = int(os.environ.get("RUN_PAIRS", "5"))
STAGES = ["generate", "verify", "split", "weight", "update"]
OUTDIR = {"generate": "rollouts", "verify": "verified", "split": "split", "weight": "weighted", "update": "checkpoint"}


def run(cmd, env=None, stdout=subprocess.DEVNULL):
    """Runs cmd; returns (wall seconds, user+sys seconds, peak RSS MB)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env, shell=isinstance(cmd, str))
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"bench: {cmd} failed ({code}): {err.strip()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def make_run(name, batch, group, shards):
    path = os.path.join(DATA, name)
    if os.path.exists(os.path.join(path, "steps", "000001", "weighted")):
        return path  # reuse data from an earlier bench run (same config, deterministic)
    shutil.rmtree(path, ignore_errors=True)
    run([os.path.join(BIN, "valence-init"), "--run", path, "--batch", str(batch), "--group", str(group),
         "--train", "2000", "--steps", "1", "--shards", str(shards), "--quiet"])
    for stage in ["generate", "verify", "split", "weight"]:
        run([os.path.join(BIN, "valence-" + stage), "--run", path, "--step", "1", "--jobs", "2", "--quiet"])
    return path


def stage_cmd(path, stage, jobs=1):
    cmd = [os.path.join(BIN, "valence-" + stage), "--run", path, "--step", "1", "--quiet"]
    if stage != "update":
        cmd += ["--jobs", str(jobs)]
    return cmd


def clear(path, stage):
    target = os.path.join(path, "steps", "000001", OUTDIR[stage])
    shutil.rmtree(target, ignore_errors=True)


def time_stage(path, stage, reps, jobs=1):
    best = None
    rss = 0.0
    cpu = 0.0
    for _ in range(reps):
        clear(path, stage)
        wall, c, r = run(stage_cmd(path, stage, jobs))
        if best is None or wall < best:
            best, cpu = wall, c
        rss = max(rss, r)
    return {"seconds": best, "cpu_seconds": cpu, "rss_mb": rss}


def shards_of(path, directory):
    out = []
    base = os.path.join(path, "steps", "000001", directory)
    for dirpath, _, files in os.walk(base):
        out += [os.path.join(dirpath, f) for f in sorted(files) if f.endswith(".jsonl.zst")]
    return sorted(out)


def inputs_of(path, stage):
    if stage == "generate":
        return [os.path.join(path, "task", "train.jsonl.zst"), os.path.join(path, "steps", "000000", "checkpoint", "policy.jsonl.zst")]
    if stage == "verify":
        return shards_of(path, "rollouts") + [os.path.join(path, "task", "train.jsonl.zst")]
    if stage == "split":
        return shards_of(path, "verified")
    if stage == "weight":
        return [f for f in shards_of(path, "split") if "/groups/" not in f]
    return shards_of(path, "weighted")


def outputs_of(path, stage):
    return {"generate": shards_of(path, "rollouts"), "verify": shards_of(path, "verified"),
            "split": shards_of(path, "split"), "weight": shards_of(path, "weighted"), "update": []}[stage]


def zstd_read(files, reps):
    best = None
    for _ in range(reps):
        wall, _, _ = run("zstd -dcq " + " ".join(files) + " > /dev/null")
        best = wall if best is None else min(best, wall)
    return best


def uncompressed_bytes(files):
    out = subprocess.run("zstd -dcq " + " ".join(files) + " | wc -c", shell=True, capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def zstd_write(files, reps):
    """zstd -1 over the stage's decompressed outputs (prepared untimed in one temp file)."""
    if not files:
        return 0.0
    tmp = os.path.join(DATA, "floor.jsonl")
    subprocess.run("zstd -dcq " + " ".join(files) + " > " + tmp, shell=True, check=True)
    best = None
    for _ in range(reps):
        wall, _, _ = run(["zstd", "-1", "-q", "-c", tmp])
        best = wall if best is None else min(best, wall)
    os.remove(tmp)
    return best


def shard_groups(files):
    """Input files grouped by the shard part they belong to (part-0000i-of-0000n)."""
    groups = {}
    for f in files:
        m = re.search(r"part-(\d+)-of-\d+", f)
        groups.setdefault(m.group(1) if m else "", []).append(f)
    return [groups[k] for k in sorted(groups)]


def scaling(one, two, stage, reps):
    """1 shard against 2 shards with --jobs 2, in interleaved pairs (so a slow phase of the host
    hits both sides), and the same for a reference: zstd -dc of the same inputs, once as one
    process and once as two processes at once. The reference shows what this machine's two
    cores give to a program that does not share anything, at that moment."""
    sides = {"one": [], "two": [], "ref_one": [], "ref_two": []}
    ref_one = "zstd -dcq " + " ".join(inputs_of(one, stage)) + " > /dev/null"
    ref_two = " & ".join(f"zstd -dcq {' '.join(g)} > /dev/null" for g in shard_groups(inputs_of(two, stage))) + " & wait"
    for _ in range(reps):
        clear(one, stage)
        sides["one"].append(run(stage_cmd(one, stage))[0])
        clear(two, stage)
        sides["two"].append(run(stage_cmd(two, stage, jobs=2))[0])
        sides["ref_one"].append(run(ref_one)[0])
        sides["ref_two"].append(run(ref_two)[0])
    pairs = sorted(a / b for a, b in zip(sides["one"], sides["two"]))
    return {"seconds_1shard_paired": min(sides["one"]), "seconds_2shards_jobs2": min(sides["two"]),
            "speedup_2shards": min(sides["one"]) / min(sides["two"]),
            "speedup_2shards_median_pair": pairs[len(pairs) // 2],
            "zstd_reference_speedup": min(sides["ref_one"]) / min(sides["ref_two"])}


def python_stage(path, stage, reps):
    out = os.path.join(DATA, "python-out")
    best = None
    rss = 0.0
    for _ in range(reps):
        shutil.rmtree(out, ignore_errors=True)
        wall, _, r = run([sys.executable, os.path.join(ROOT, "bench", "baseline.py"), stage, path, out])
        best = wall if best is None else min(best, wall)
        rss = max(rss, r)
    shutil.rmtree(out, ignore_errors=True)
    return best, rss


def records_in(path, stage):
    cfg = json.load(open(os.path.join(path, "config.json")))
    return cfg["batch"] * cfg["group"]


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def run_floor(path):
    """What writing a finished run costs without any of Valence's work: its files copied (the same
    compressed bytes) into a fresh directory the way Valence writes them (directories, a temporary
    file renamed into place; RUN/steps with ext4's top-directory attribute, as valence-init sets
    it), and zstd level 1 of their uncompressed content in one call."""
    files = []
    for root, _, names in os.walk(path):
        for name in names:
            if not name.startswith("."):
                full = os.path.join(root, name)
                with open(full, "rb") as fh:
                    files.append((os.path.relpath(full, path), fh.read()))
    files.sort()
    directories = sorted({os.path.dirname(rel) for rel, _ in files})
    dest = path + "-floor"
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.join(dest, "steps"))
    subprocess.run(["chattr", "+T", os.path.join(dest, "steps")], stderr=subprocess.DEVNULL)
    start = time.perf_counter()
    for d in directories:
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    for rel, data in files:
        final = os.path.join(dest, rel)
        temporary = os.path.join(os.path.dirname(final), "." + os.path.basename(final) + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
        os.rename(temporary, final)
    files_seconds = time.perf_counter() - start
    shutil.rmtree(dest, ignore_errors=True)
    content = b"".join(subprocess.run(["zstd", "-dcq", os.path.join(path, rel)], capture_output=True, check=True).stdout
                       for rel, _ in files if rel.endswith(".zst"))
    try:
        import zstandard
        compressor = zstandard.ZstdCompressor(level=1, write_checksum=True)
        start = time.perf_counter()
        compressor.compress(content)
        zstd_seconds = time.perf_counter() - start
    except ImportError:  # the zstd tool instead (its start, a few ms, is counted too)
        start = time.perf_counter()
        subprocess.run(["zstd", "-1", "-q", "-c"], input=content, stdout=subprocess.DEVNULL, check=True)
        zstd_seconds = time.perf_counter() - start
    return {"files": len(files), "directories": len(directories), "files_seconds": files_seconds,
            "mb": len(content) / 1e6, "zstd_seconds": zstd_seconds}


def research_speed():
    """The cost of runs at research scale (B x G = 512): what a researcher running many runs waits for."""
    out = {}
    make = ["make", "--no-print-directory", "-C", ROOT, "NO_BUILD=1", "CONFIG=release"]
    # 1. A default 60-step run through make, against the NumPy script, alternated pairs. Each pair's
    # run gets a directory of its own, all removed after the research measurements below: a run made just after the
    # previous one was deleted pays the file system for the deletion (on this VM's ext4, which has no
    # journal, every new inode skips those freed in the last minute one by one: 5-10% of a run here),
    # a cost of the harness, not of the run (docs/performance.md, "Research-speed runs (round 8)";
    # bench/pairs.sh --delete-before measures it).
    ratios, valence_s, numpy_s, valence_cpu = [], [], [], []
    paths = [os.path.join(DATA, f"research-run-{i}") for i in range(RUN_PAIRS)]
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
    for path in paths:
        v, cpu, _ = run(make + ["run", f"RUN={path}", "OBJECTIVE=psr", "QUIET=1"])
        n, _, _ = run([sys.executable, os.path.join(ROOT, "bench", "numpy_run.py"), "--objective", "psr"])
        valence_s.append(v)
        valence_cpu.append(cpu)
        numpy_s.append(n)
        ratios.append(v / n)
    out["run60"] = {"valence_seconds": valence_s, "numpy_seconds": numpy_s, "median_ratio": median(ratios),
                    "median_valence_seconds": median(valence_s), "median_numpy_seconds": median(numpy_s),
                    "median_valence_cpu_seconds": median(valence_cpu)}
    print(f"  60-step run: make run {median(valence_s):.2f}s ({median(valence_cpu):.2f} CPU-s), NumPy script "
          f"{median(numpy_s):.2f}s, median pair ratio {median(ratios):.2f}", flush=True)
    out["run60"]["floor"] = run_floor(paths[-1])
    f = out["run60"]["floor"]
    print(f"  what any writer of this run pays: its {f['files']} files in {f['directories']} directories written again "
          f"(same bytes, no encoding) {f['files_seconds']:.3f}s, zstd -1 of their {f['mb']:.0f} MB {f['zstd_seconds']:.3f}s",
          flush=True)

    # 2. In-process steps early and late in a 1000-step run, 20 steps each (valence-step --all,
    # less the cost of a call that has nothing to do). Steps 1-20 are timed on three copies of the
    # base-evaluated run and the median taken (one 0.1 s window moved by 15% with this VM's load).
    path = os.path.join(DATA, "research-long")
    shutil.rmtree(path, ignore_errors=True)
    init = [os.path.join(BIN, "valence-init"), "--run", path, "--objective", "psr", "--quiet"]
    step_all = [os.path.join(BIN, "valence-step"), "--run", path, "--all", "--quiet"]
    run(init + ["--steps", "0"])
    run(step_all)                                  # the base eval
    idle = median([run(step_all)[0] for _ in range(3)])
    windows = []
    for copy in (path + "-early1", path + "-early2"):
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(path, copy, symlinks=True)
        run([os.path.join(BIN, "valence-init"), "--run", copy, "--objective", "psr", "--quiet", "--steps", "20"])
        windows.append(run([os.path.join(BIN, "valence-step"), "--run", copy, "--all", "--quiet"])[0])
        shutil.rmtree(copy, ignore_errors=True)
    run(init + ["--steps", "20"])
    windows.append(run(step_all)[0])
    early = median(windows)
    run(init + ["--steps", "980"])
    run(step_all)
    run(init + ["--steps", "1000"])
    late, _, _ = run(step_all)
    out["in_process"] = {"ms_per_step_1_20": 1e3 * (early - idle) / 20, "ms_per_step_981_1000": 1e3 * (late - idle) / 20,
                         "idle_call_seconds": idle}
    out["in_process"]["late_over_early"] = out["in_process"]["ms_per_step_981_1000"] / out["in_process"]["ms_per_step_1_20"]
    # 3. make step as cron calls it: steps 10-12 of a fresh run and 998-1000 of the long one.
    def make_steps(run_path, n):
        return median([run(make + ["step", f"RUN={run_path}", "QUIET=1"])[0] for _ in range(n)])
    run(init + ["--steps", "1000"])
    shutil.rmtree(path + "-cron", ignore_errors=True)
    run([os.path.join(BIN, "valence-init"), "--run", path + "-cron", "--objective", "psr", "--steps", "9", "--quiet"])
    run([os.path.join(BIN, "valence-step"), "--run", path + "-cron", "--all", "--quiet"])
    run([os.path.join(BIN, "valence-init"), "--run", path + "-cron", "--objective", "psr", "--steps", "1000", "--quiet"])
    cron_early = make_steps(path + "-cron", 3)
    run(init + ["--steps", "997"])
    run(init + ["--steps", "1000"])
    cron_late = make_steps(path, 3)
    out["make_step"] = {"seconds_steps_10_12": cron_early, "seconds_steps_998_1000": cron_late,
                        "late_over_early": cron_late / cron_early}
    print(f"  in-process: {out['in_process']['ms_per_step_1_20']:.1f} ms/step at steps 1-20, "
          f"{out['in_process']['ms_per_step_981_1000']:.1f} at 981-1000; make step {cron_early * 1e3:.0f} ms at step 10-12, "
          f"{cron_late * 1e3:.0f} ms at 998-1000", flush=True)
    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(path + "-cron", ignore_errors=True)

    # 4. The grids: compare (22 runs x 60 steps) and ablation (72 runs), runs only, on all cores.
    for grid in ("compare", "ablation"):
        d = os.path.join(DATA, "research-" + grid)
        shutil.rmtree(d, ignore_errors=True)
        sweep = [os.path.join(BIN, "valence-sweep"), os.path.join(ROOT, "data", "grids", grid + ".json"), "--out", d]
        runs = len(subprocess.run(sweep + ["--dry-run"], capture_output=True, text=True, check=True).stdout.splitlines())
        wall, _, _ = run(sweep + ["--samples", "0", "--quiet"])
        out[grid] = {"seconds": wall, "runs": runs}
        print(f"  {grid} grid: {wall:.1f}s of runs", flush=True)
        shutil.rmtree(d, ignore_errors=True)
    # Last, so that no measurement above follows their deletion (with the single directory earlier
    # benches used).
    for path in paths + [os.path.join(DATA, "research-run")]:
        shutil.rmtree(path, ignore_errors=True)
    return out


def main():
    os.makedirs(DATA, exist_ok=True)
    t0 = time.perf_counter()
    print(f"bench: data in {DATA}, {REPS} repetitions (best wall time), machine: {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    one = make_run("m1", 2000, 500, 1)
    two = make_run("m1-2shards", 2000, 500, 2)
    big = make_run("m10", 2000, 5000, 1) if BIG else None
    results = {"machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                           "load_average_at_start": os.getloadavg()[0]},
               "stages": {}, "targets": []}

    rows = []
    if not STAGE_BENCH:
        research_only(results, t0)
        return
    for stage in STAGES:
        n = records_in(one, stage)
        sw = time_stage(one, stage, REPS)
        ins = inputs_of(one, stage)
        floor_read = zstd_read(ins, REPS)
        floor_write = zstd_write(outputs_of(one, stage), REPS)
        mb = uncompressed_bytes(ins if stage != "generate" else outputs_of(one, stage)) / 1e6
        py, py_rss = python_stage(one, stage, PY_REPS)
        entry = {"records": n, "seconds": sw["seconds"], "cpu_seconds": sw["cpu_seconds"],
                 "records_per_s": n / sw["seconds"], "records_per_cpu_s": n / sw["cpu_seconds"], "mb_per_s": mb / sw["seconds"], "rss_mb_1m": sw["rss_mb"],
                 "zstd_floor_seconds": floor_read + floor_write, "x_zstd_floor": sw["seconds"] / (floor_read + floor_write),
                 "python_seconds": py, "python_rss_mb": py_rss, "x_python": py / sw["seconds"]}
        if big:
            b = time_stage(big, stage, 1)
            nb = records_in(big, stage)
            entry.update({"records_10m": nb, "seconds_10m": b["seconds"], "records_per_s_10m": nb / b["seconds"],
                          "rss_mb_10m": b["rss_mb"]})
        if stage in ("verify", "split", "weight"):
            entry.update(scaling(one, two, stage, REPS))
        results["stages"][stage] = entry
        print(f"  {stage}: {entry['records_per_s'] / 1e6:.2f}M records/s, {entry['rss_mb_1m']:.0f} MB, "
              f"python {py:.2f}s", flush=True)

    # A whole step of 1M rollouts through pipelines/step.sh, against zstd -dc of everything it reads.
    step_run = os.path.join(DATA, "step1m")
    shutil.rmtree(step_run, ignore_errors=True)
    run([os.path.join(BIN, "valence-init"), "--run", step_run, "--batch", "2000", "--group", "500", "--train", "2000",
         "--steps", "1", "--quiet"])
    run([os.path.join(BIN, "valence-eval"), "--run", step_run, "--step", "0", "--quiet"])
    env = dict(os.environ, VALENCE_BIN=BIN, QUIET="1", JOBS="1")
    step_dir = os.path.join(step_run, "steps", "000001")
    step_wall, step_rss, step_floor = None, 0.0, None
    # Best of STEP_REPS steps, each followed by zstd -dc of what it read (interleaved like the
    # scaling pairs, so both sides of the ratio see the same phases of the host).
    for _ in range(STEP_REPS):
        shutil.rmtree(step_dir, ignore_errors=True)
        wall, _, rss = run([os.path.join(ROOT, "pipelines", "step.sh"), step_run], env=env)
        step_wall = wall if step_wall is None else min(step_wall, wall)
        step_rss = max(step_rss, rss)
        read_files = (shards_of(step_run, "rollouts") + shards_of(step_run, "verified") + shards_of(step_run, "split")
                      + shards_of(step_run, "weighted") + [os.path.join(step_run, "task", "train.jsonl.zst"),
                                                             os.path.join(step_run, "task", "test.jsonl.zst")])
        floor = zstd_read(read_files, 1)
        step_floor = floor if step_floor is None else min(step_floor, floor)
    results["step"] = {"records": 1_000_000, "seconds": step_wall, "zstd_read_seconds": step_floor,
                       "x_zstd_read": step_wall / step_floor, "peak_rss_mb": step_rss}
    shutil.rmtree(step_run, ignore_errors=True)

    # Targets.
    def target(name, value, limit, ok, unit="", upper=None):
        t = {"target": name, "value": value, "limit": limit, "pass": bool(ok), "unit": unit}
        if upper is not None:
            t["upper"] = upper
        results["targets"].append(t)

    st = results["stages"]
    for s in ("verify", "split", "weight"):
        target(f"{s} records/s (1 core, 1M)", st[s]["records_per_s"], 1.0e6, st[s]["records_per_s"] >= 1.0e6)
    target("update records/s (1M)", st["update"]["records_per_s"], 2.0e6, st["update"]["records_per_s"] >= 2.0e6)
    target("generate rollouts/s (1M)", st["generate"]["records_per_s"], 1.0e6, st["generate"]["records_per_s"] >= 1.0e6)
    target("1M-rollout step / zstd -dc of its shards", results["step"]["x_zstd_read"], 8.0, results["step"]["x_zstd_read"] <= 8.0, "x", upper=True)
    for s in STAGES:
        target(f"{s} peak RSS at 1M (MB)", st[s]["rss_mb_1m"], 64, st[s]["rss_mb_1m"] <= 64, "MB")
        if big:
            target(f"{s} peak RSS at 10M (MB)", st[s]["rss_mb_10m"], 64, st[s]["rss_mb_10m"] <= 64, "MB")
    # Relative to the host: two shards must get at least 0.9 of what two zstd -dc processes get here.
    for s in ("verify", "split", "weight"):
        rel = st[s]["speedup_2shards"] / st[s]["zstd_reference_speedup"]
        st[s]["speedup_over_zstd_reference"] = rel
        target(f"{s} 2 shards --jobs 2 speed-up / zstd -dc x2 speed-up ({st[s]['speedup_2shards']:.2f}x / "
               f"{st[s]['zstd_reference_speedup']:.2f}x)", rel, 0.9, rel >= 0.9, "x", upper=False)
    for s in STAGES:
        target(f"{s} vs Python orjson+zstandard", st[s]["x_python"], 2.0, st[s]["x_python"] >= 2.0, "x")
    if RESEARCH:
        research_targets(results, target)
    results["load_average_at_end"] = os.getloadavg()[0]
    results["bench_seconds"] = time.perf_counter() - t0

    # Table.
    print()
    print(f"{'stage':<9} {'records':>9} {'best s':>7} {'rec/s':>8} {'MB/s':>7} {'RSS 1M':>7} {'RSS 10M':>8} "
          f"{'10M rec/s':>9} {'x floor':>8} {'x python':>8} {'2sh/j2':>7} {'rec/cpu-s':>9}")
    for s in STAGES:
        e = st[s]
        print(f"{s:<9} {e['records']:>9} {e['seconds']:>7.2f} {e['records_per_s'] / 1e6:>7.2f}M {e['mb_per_s']:>7.0f} "
              f"{e['rss_mb_1m']:>6.0f}M {e.get('rss_mb_10m', float('nan')):>7.0f}M "
              f"{e.get('records_per_s_10m', float('nan')) / 1e6:>8.2f}M {e['x_zstd_floor']:>8.2f} {e['x_python']:>8.2f} "
              f"{e.get('speedup_2shards', float('nan')):>7.2f} {e['records_per_cpu_s'] / 1e6:>8.2f}M")
    s = results["step"]
    print("(rec/s, MB/s: best wall time; MB/s counts uncompressed input bytes; x floor: time / (zstd -dc of inputs +")
    print(" zstd -1 of outputs); rec/cpu-s: records per second of the stage's own user+sys CPU time)")
    print(f"step (1M rollouts, pipelines/step.sh, best of {STEP_REPS}): {s['seconds']:.2f}s = {s['x_zstd_read']:.2f}x "
          f"zstd -dc of its shards ({s['zstd_read_seconds']:.2f}s)")
    print("2 shards (interleaved pairs, best of each side): " + "; ".join(
        f"{x} {st[x]['speedup_2shards']:.2f}x (median pair {st[x]['speedup_2shards_median_pair']:.2f}x, "
        f"zstd -dc reference {st[x]['zstd_reference_speedup']:.2f}x)" for x in ("verify", "split", "weight")))
    print()
    for t in results["targets"]:
        value = f"{t['value'] / 1e6:.2f}M/s" if t["unit"] == "" else f"{t['value']:.2f}{t['unit']}"
        limit = f"{t['limit'] / 1e6:.1f}M/s" if t["unit"] == "" else f"{t['limit']}{t['unit']}"
        bound = "<=" if t.get("upper", "RSS" in t["target"] or "step" in t["target"]) else ">="
        print(f"  {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {value} (target {bound} {limit})")
    print(f"\nbench: {sum(t['pass'] for t in results['targets'])}/{len(results['targets'])} targets met in "
          f"{results['bench_seconds']:.0f}s; load average {results['load_average_at_end']:.1f} "
          f"(other work on the machine slows every number)")
    with open(os.path.join(ROOT, "bench", "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print("bench: wrote bench/results.json")


def research_targets(results, target):
    r = research_speed()
    results["research"] = r
    target("60-step make run / NumPy script (median of alternated pairs)", r["run60"]["median_ratio"], 1.0,
           r["run60"]["median_ratio"] <= 1.0, "x", upper=True)
    target("in-process ms per step (B x G = 512, steps 1-20)", r["in_process"]["ms_per_step_1_20"], 5.0,
           r["in_process"]["ms_per_step_1_20"] <= 5.0, " ms", upper=True)
    target("in-process step 981-1000 / step 1-20", r["in_process"]["late_over_early"], 1.2,
           r["in_process"]["late_over_early"] <= 1.2, "x", upper=True)
    target("make step at step 998-1000 / at step 10-12", r["make_step"]["late_over_early"], 1.2,
           r["make_step"]["late_over_early"] <= 1.2, "x", upper=True)
    target(f"make compare runs ({r['compare']['runs']} x 60 steps), s", r["compare"]["seconds"], 20.0, r["compare"]["seconds"] <= 20.0, " s", upper=True)
    target(f"make ablation runs ({r['ablation']['runs']} x 60 steps), s", r["ablation"]["seconds"], 60.0, r["ablation"]["seconds"] <= 60.0, " s", upper=True)


def research_only(results, t0):
    """BENCH_STAGES=0: only the research-speed targets."""
    def target(name, value, limit, ok, unit="", upper=True):
        results["targets"].append({"target": name, "value": value, "limit": limit, "pass": bool(ok), "unit": unit, "upper": upper})
    research_targets(results, target)
    results["bench_seconds"] = time.perf_counter() - t0
    for t in results["targets"]:
        print(f"  {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['value']:.2f}{t['unit']} (target <= {t['limit']}{t['unit']})")
    with open(os.path.join(ROOT, "bench", "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"bench: {sum(t['pass'] for t in results['targets'])}/{len(results['targets'])} targets met; wrote bench/results.json")


if __name__ == "__main__":
    main()
