/// `valence-eval`: exact metrics of a checkpoint (SPEC 6), joined with the step's batch and
/// gradient statistics, appended to the run's `metrics.jsonl`.
public enum EvalStage {
    public static let directory = "eval"

    @discardableResult
    ///
    /// `samples` > 0 also draws that many rollouts per prompt and records the sampled Pass@k
    /// (unbiased estimator) next to the exact one; it must be at least the largest k (256).
    public static func run(_ env: StageEnvironment, step: Int, samples: Int = 0) throws -> Manifest {
        try env.checkStep(step, allowZero: true)
        if samples != 0 { try SampledPassAtK.validate(samples: samples) }
        let config = env.config
        let update = try env.requireManifest(RunLayout.checkpointManifest(step), from: step == 0 ? "update" : "update", step: step)
        var splitManifests: [Manifest] = []
        var weightManifests: [Manifest] = []
        if step > 0 {
            for shard in 0..<config.shards {
                splitManifests.append(try env.requireManifest(
                    RunLayout.partManifest(step: step, SplitStage.directory, shard: shard, shards: config.shards), from: "split", step: step))
                if config.filterGroups {
                    weightManifests.append(try env.requireManifest(
                        RunLayout.partManifest(step: step, WeightStage.directory, shard: shard, shards: config.shards), from: "weight", step: step))
                }
            }
        }
        let splits = config.evalTrain ? ["test", "train"] : ["test"]
        let manifestFile = RunLayout.evalManifest(step)
        let lock = try env.lockPart(manifestFile, stage: "eval")
        defer { lock.release() }
        var files = [RunLayout.policy(step), RunLayout.checkpointManifest(step)] + splits.map { RunLayout.taskShard($0) }
        files += (0..<splitManifests.count).map { RunLayout.partManifest(step: step, SplitStage.directory, shard: $0, shards: config.shards) }
        files += (0..<weightManifests.count).map { RunLayout.partManifest(step: step, WeightStage.directory, shard: $0, shards: config.shards) }
        // The step's diagnostics (entropy change, mass redistribution) compare with checkpoint N-1.
        let sampleShards = splitManifests.flatMap { $0.outputs.filter { $0.schema == Schema.verified.rawValue } }
        if step > 0 {
            files += [RunLayout.policy(step - 1), RunLayout.taskShard("train")] + sampleShards.map(\.path)
            // The gradient parts (SPEC 9); runs made before update wrote them have none.
            if FileSystem.exists(env.layout.path(GradientParts.file(step))) { files.append(GradientParts.file(step)) }
        }
        let inputs = try env.inputDigest(stage: samples > 0 ? "eval samples=\(samples)" : "eval", step: step, files: files)
        if let done = env.upToDate(manifestFile, inputs: inputs) {
            env.say("eval: step \(step) is up to date")
            try rebuildMetrics(env)
            return done
        }

        let space = try config.space
        let policy = try TabularPolicy.read(from: env.layout.path(RunLayout.policy(step)), space: space).policy
        func sum(_ key: String) -> Int { splitManifests.reduce(0) { $0 + ($1.stat(key)?.intValue ?? 0) } }
        let positives = sum("positives"), negatives = sum("negatives")
        var previous: TabularPolicy?
        var redistribution = RedistributionDiagnostic()
        let parts = step > 0 && files.contains(GradientParts.file(step))
            ? try GradientParts.read(from: env.layout.path(GradientParts.file(step)), space: space) : nil
        if step > 0 {
            let before = try TabularPolicy.read(from: env.layout.path(RunLayout.policy(step - 1)), space: space).policy
            previous = before
            redistribution = try measureRedistribution(env, step: step, before: before, after: policy, shards: sampleShards)
        }

        let metricsFile = "\(RunLayout.stepDirectory(step))/\(directory)/metrics.jsonl"
        var w = JSONWriter()
        var summaryLine = ""
        for split in splits {
            let prompts = try TaskPrompts.load(env, split: split, withAnswers: false)
            let e = Evaluation.evaluate(policy: policy, prompts: prompts.pairs, temperature: config.evalTemperature)
            w.beginObject()
            w.key("schema"); w.string(Schema.metrics.rawValue)
            w.key("run"); w.string(env.runID.description)
            w.key("step"); w.int(step)
            w.key("objective"); w.string(config.objective.rawValue)
            w.key("window"); w.int(config.window)
            w.key("seed"); w.int(Int(bitPattern: UInt(config.seed)))
            w.key("split"); w.string(split)
            for (k, v) in zip(PassAtK.ks, e.passAtK) {
                w.key("pass@\(k)"); w.double(v)
            }
            w.key("entropy"); w.double(e.entropy)
            w.key("greedy"); w.double(e.greedy)
            if let previous {
                let p = Evaluation.evaluate(policy: previous, prompts: prompts.pairs, temperature: config.evalTemperature)
                w.key("entropy_delta"); w.double(e.entropy - p.entropy)
                for (key, value) in EntropyDecomposition.fields(before: previous, after: policy, parts: parts, prompts: prompts.pairs,
                                                                temperature: config.evalTemperature) {
                    w.key(key)
                    if let value { w.double(value) } else { w.null() }
                }
            } else {
                w.key("entropy_delta"); w.null()
                for key in EntropyDecomposition.fieldNames { w.key(key); w.null() }
            }
            for (key, value) in redistribution.fields {
                w.key(key)
                if step > 0, let value { w.double(value) } else { w.null() }
            }
            if samples > 0 {
                let sampled = try SampledPassAtK.evaluate(policy: policy, prompts: prompts.pairs, temperature: config.evalTemperature,
                                                          samples: samples, seed: config.seed, step: step)
                w.key("sampled_n"); w.int(samples)
                for (k, v) in zip(PassAtK.ks, sampled.passAtK) {
                    w.key("sampled_pass@\(k)"); w.double(v)
                }
            }
            if step > 0 && config.rollouts == .expected {
                // SPEC 8: the batch statistics are expectations (real numbers), summed by split.
                func real(_ key: String, _ manifests: [Manifest]) -> Double { manifests.reduce(0) { $0 + ($1.stat(key)?.doubleValue ?? 0) } }
                let prompts = real("groups", splitManifests)
                w.key("batch_correct"); w.double(prompts > 0 ? real("p_sum", splitManifests) / prompts : 0)
                for key in ["positives", "negatives", "solved_all", "solved_none", "solved_some"] {
                    w.key(key); w.double(real(key, splitManifests))
                }
                for key in ["grad_norm", "grad_norm_psr", "grad_norm_nsr"] {
                    w.key(key); w.double(update.stat(key)?.doubleValue ?? 0)
                }
                if config.filterGroups {
                    for key in ["dropped_groups_all_correct", "dropped_groups_all_wrong"] {
                        w.key(key); w.double(real(key, weightManifests))
                    }
                }
            } else if step > 0 {
                let total = positives + negatives
                w.key("batch_correct"); w.double(total > 0 ? Double(positives) / Double(total) : 0)
                w.key("positives"); w.int(positives)
                w.key("negatives"); w.int(negatives)
                w.key("solved_all"); w.int(sum("solved_all"))
                w.key("solved_none"); w.int(sum("solved_none"))
                w.key("solved_some"); w.int(sum("solved_some"))
                for key in ["grad_norm", "grad_norm_psr", "grad_norm_nsr"] {
                    w.key(key); w.double(update.stat(key)?.doubleValue ?? 0)
                }
                if config.filterGroups {
                    for key in ["dropped_groups_all_correct", "dropped_groups_all_wrong"] {
                        w.key(key); w.int(weightManifests.reduce(0) { $0 + ($1.stat(key)?.intValue ?? 0) })
                    }
                }
            } else {
                for key in ["batch_correct", "positives", "negatives", "solved_all", "solved_none", "solved_some",
                            "grad_norm", "grad_norm_psr", "grad_norm_nsr"] {
                    w.key(key); w.null()
                }
            }
            w.endObject()
            w.newline()
            if split == "test" {
                summaryLine = "pass@1 \(formatNumber(e.passAtK[0])) pass@256 \(formatNumber(e.passAtK[8])) entropy \(formatNumber(e.entropy)) greedy \(formatNumber(e.greedy))"
            }
        }
        try FileSystem.writeAtomically(env.layout.path(metricsFile), bytes: w.bytes)
        let manifest = Manifest(
            stage: "eval", run: env.runID, step: step, shard: nil, shards: nil, inputs: inputs,
            outputs: [.init(path: metricsFile, schema: Schema.metrics.rawValue, records: splits.count, bytes: w.bytes.count, digest: Digest.of(w.bytes).value)],
            stats: [("splits", .array(splits.map { .string($0) }))]
        )
        // metrics.jsonl first, the manifest last: a crash between the two leaves the step
        // unevaluated, so the rerun evaluates it again and rewrites the same bytes. The other order
        // could leave a finished run whose metrics.jsonl lacks its last line.
        try rebuildMetrics(env, including: step)
        try manifest.write(to: env.layout.path(manifestFile))
        env.say("eval: step \(step)/\(config.steps) \(config.objective.rawValue) w\(config.window): \(summaryLine)")
        return manifest
    }

    /// The mass-redistribution diagnostic of step `step` (see ``RedistributionDiagnostic``): which
    /// rows got a wrong sample and which tokens any sample used there, from the split shards, and
    /// which digits are correct for some train prompt using each row.
    static func measureRedistribution(_ env: StageEnvironment, step: Int, before: TabularPolicy, after: TabularPolicy,
                                      shards: [Manifest.Output]) throws -> RedistributionDiagnostic {
        let space = before.space
        var sampled = [UInt16](repeating: 0, count: space.rowCount)
        var penalised = [UInt16](repeating: 0, count: space.rowCount)
        var correct = [UInt16](repeating: 0, count: space.rowCount)
        var rows: [Int] = []
        let train = try TaskPrompts.load(env, split: "train", withAnswers: false)
        for (a, b) in train.pairs {
            space.rows(a: a, b: b, into: &rows)
            for j in 0..<rows.count { correct[rows[j]] |= 1 << UInt16(space.task.digit(a + b, at: j)) }
        }
        // The rows depend only on the operands, which repeat for a prompt's whole group.
        var rowsOperands = (-1, -1)
        for output in shards {
            // eval, like update, runs alone after the step's shards: read ahead when a second CPU is there.
            try env.forEachRollout(output, as: .verified, step: step, readAhead: true) { r in
                guard r.tokens.count == space.length else {
                    throw RecordError("\(r.tokens.count) tokens, the task's responses have \(space.length)")
                }
                if rowsOperands != (r.a, r.b) {
                    space.rows(a: r.a, b: r.b, into: &rows)
                    rowsOperands = (r.a, r.b)
                }
                for j in 0..<rows.count {
                    guard (0..<10).contains(r.tokens[j]) else { throw RecordError("token \(r.tokens[j]) is not a digit") }
                    let bit = UInt16(1) << UInt16(r.tokens[j])
                    sampled[rows[j]] |= bit
                    if r.reward == 0 { penalised[rows[j]] |= bit }
                }
            }
        }
        let p0 = before.probabilities(), p1 = after.probabilities()
        var diagnostic = RedistributionDiagnostic()
        for r in 0..<space.rowCount where penalised[r] != 0 {
            diagnostic.add(before: p0[(r * 10)..<(r * 10 + 10)], after: p1[(r * 10)..<(r * 10 + 10)],
                           penalised: penalised[r], sampled: sampled[r], correct: correct[r])
        }
        return diagnostic
    }

    /// Rewrites `RUN/metrics.jsonl` from every evaluated step, in step order: rerunning an eval can
    /// never duplicate a line, and a crash mid-write leaves the previous complete file.
    /// `including` names a step whose eval file is written but whose manifest is not yet.
    public static func rebuildMetrics(_ env: StageEnvironment, including pending: Int? = nil) throws {
        // Evals of different steps may finish at once; the file is rebuilt by one at a time.
        let lock = try FileLock.acquire(env.layout.path(RunLayout.metricsLock)) {}
        defer { lock.release() }
        var bytes: [UInt8] = []
        let names = (try? FileSystem.list(env.layout.path("steps"))) ?? []
        for name in names {
            guard let step = Int(name),
                  step == pending || FileSystem.exists(env.layout.path(RunLayout.evalManifest(step))) else { continue }
            bytes += try FileSystem.readFile(env.layout.path("\(RunLayout.stepDirectory(step))/\(directory)/metrics.jsonl"))
        }
        if (try? FileSystem.readFile(env.layout.metrics)) != bytes {
            try FileSystem.writeAtomically(env.layout.metrics, bytes: bytes)
        }
    }
}
