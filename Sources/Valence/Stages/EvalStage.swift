/// `valence-eval`: exact metrics of a checkpoint (docs/model.md 6), joined with the step's batch and
/// gradient statistics, appended to the run's `metrics.jsonl`.
public struct EvalStage: StagePart {
    public static let name = "eval"
    public static let directory = "eval"
    public static var allowsStepZero: Bool { true }

    public let step: Int
    public var shard: Int? { nil }
    /// > 0: also draw that many rollouts per prompt and record the sampled Pass@k (unbiased
    /// estimator) next to the exact one; at least the largest k (256).
    public let samples: Int

    public init(step: Int, samples: Int = 0) {
        self.step = step
        self.samples = samples
    }

    /// Evaluates checkpoint `step` through the stage skeleton (``StageEnvironment/run(_:)``).
    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int, samples: Int = 0) throws -> Manifest {
        if samples != 0 { try SampledPassAtK.validate(samples: samples) }
        return try env.run(EvalStage(step: step, samples: samples))
    }

    /// Upstream manifests read for the metrics line: the checkpoint's (index 0), then split's and,
    /// with group filtering, weight's parts of the step.
    public func plan(_ env: StageEnvironment) throws -> StagePlan {
        let config = env.config
        let shards = config.shards
        let update = try env.requireManifest(RunLayout.checkpointManifest(step), from: UpdateStage.name, step: step)
        var upstream = [update]
        var files = [RunLayout.policy(step), RunLayout.checkpointManifest(step)] + splits(config).map { RunLayout.taskShard($0) }
        var splitManifests: [Manifest] = []
        if step > 0 {
            for shard in 0..<shards {
                let path = RunLayout.partManifest(step: step, SplitStage.directory, shard: shard, shards: shards)
                splitManifests.append(try env.requireManifest(path, from: SplitStage.name, step: step))
                files.append(path)
            }
            upstream += splitManifests
            if config.filterGroups {
                for shard in 0..<shards {
                    let path = RunLayout.partManifest(step: step, WeightStage.directory, shard: shard, shards: shards)
                    upstream.append(try env.requireManifest(path, from: WeightStage.name, step: step))
                    files.append(path)
                }
            }
            // The step's diagnostics (entropy change, mass redistribution) compare with checkpoint N-1.
            files += [RunLayout.policy(step - 1), RunLayout.taskShard("train")] + sampleShards(splitManifests).map(\.path)
            // The gradient parts (docs/model.md 9); runs made before update wrote them have none.
            if FileSystem.exists(env.layout.path(GradientParts.file(step))) { files.append(GradientParts.file(step)) }
        }
        return StagePlan(manifest: RunLayout.evalManifest(step), files: files,
                         identity: samples > 0 ? "eval samples=\(samples)" : "eval", upstream: upstream)
    }

    func splits(_ config: RunConfig) -> [String] { config.evalTrain ? ["test", "train"] : ["test"] }

    func sampleShards(_ splitManifests: [Manifest]) -> [Manifest.Output] {
        splitManifests.flatMap { $0.outputs.filter { $0.schema == Schema.verified.rawValue } }
    }

    /// An up-to-date eval still makes sure `metrics.jsonl` holds its lines.
    public func upToDate(_ env: StageEnvironment, manifest: Manifest) throws {
        try MetricsLog(layout: env.layout).record(step: step, lines: try FileSystem.readFile(env.layout.path(RunLayout.evalMetrics(step))))
    }

    public func produce(_ env: StageEnvironment, plan: StagePlan) throws -> StageProduct<EvalStats> {
        let config = env.config
        let shards = config.shards
        let splits = splits(config)
        let update = try UpdateStats(plan.upstream[0], path: env.layout.path(RunLayout.checkpointManifest(step)))
        let splitManifests = step > 0 ? Array(plan.upstream[1...shards]) : []
        let expected = config.rollouts == .expected
        var batch = SplitStats()
        // Expected mode (docs/model.md 8): split's stats are real-valued expectations, read by ExpectedBatch.
        let expectedBatch = expected && step > 0 ? try ExpectedBatch(env, step: step, split: splitManifests, weight: Array(plan.upstream.dropFirst(1 + shards))) : nil
        for (shard, m) in splitManifests.enumerated() where !expected {
            batch = batch + (try SplitStats(m, path: env.layout.path(RunLayout.partManifest(step: step, SplitStage.directory, shard: shard, shards: shards))))
        }
        var dropped = WeightStats.Dropped(allCorrect: 0, allWrong: 0, rollouts: 0)
        if step > 0 && config.filterGroups && !expected {
            for (shard, m) in plan.upstream[(1 + shards)...].enumerated() {
                let path = env.layout.path(RunLayout.partManifest(step: step, WeightStage.directory, shard: shard, shards: shards))
                guard let d = try WeightStats(m, path: path).dropped else {
                    throw ValenceError.badData(path: path, line: nil, detail: "the run filters groups but the manifest has no dropped counts")
                }
                dropped.allCorrect += d.allCorrect
                dropped.allWrong += d.allWrong
            }
        }
        let sampleShards = sampleShards(splitManifests)
        let space = try config.space
        let policy = try env.policy(RunLayout.policy(step), space: space)
        let positives = batch.positives, negatives = batch.negatives
        var previous: TabularPolicy?
        var redistribution = RedistributionDiagnostic()
        let parts = step > 0 && plan.files.contains(GradientParts.file(step))
            ? try env.files.value(env.layout.path(GradientParts.file(step)), variant: GradientParts.cacheVariant) {
                try GradientParts.read(from: env.layout.path(GradientParts.file(step)), space: space)
            } : nil
        if step > 0 {
            let before = try env.policy(RunLayout.policy(step - 1), space: space)
            previous = before
            redistribution = try Self.measureRedistribution(env, step: step, before: before, after: policy, shards: sampleShards)
        }

        let metricsFile = RunLayout.evalMetrics(step)
        var w = JSONWriter()
        var summaryLine = ""
        for split in splits {
            let prompts = try TaskPrompts.load(env, split: split, withAnswers: false)
            let rows = try Self.promptRows(env, split: split, prompts: prompts, space: space)
            let e = try Self.evaluation(env, RunLayout.policy(step), policy, split: split, rows: rows)
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
                let p = try Self.evaluation(env, RunLayout.policy(step - 1), previous, split: split, rows: rows)
                w.key("entropy_delta"); w.double(e.entropy - p.entropy)
                for (key, value) in EntropyDecomposition.fields(before: previous, after: policy, parts: parts, weights: rows.weights,
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
                let progress = env.log == nil ? nil : ProgressLine("eval: step \(step) \(split) sampled Pass@k (n = \(samples))",
                                                               total: prompts.pairs.count, unit: "prompts")
                let sampled = try SampledPassAtK.evaluate(policy: policy, prompts: prompts.pairs, temperature: config.evalTemperature,
                                                          samples: samples, seed: config.seed, step: step, progress: progress)
                progress?.finish()
                w.key("sampled_n"); w.int(samples)
                for (k, v) in zip(PassAtK.ks, sampled.passAtK) {
                    w.key("sampled_pass@\(k)"); w.double(v)
                }
            }
            if let expectedBatch {
                expectedBatch.write(into: &w, update: update)
            } else if step > 0 {
                let total = positives + negatives
                w.key("batch_correct"); w.double(total > 0 ? Double(positives) / Double(total) : 0)
                w.key("positives"); w.int(positives)
                w.key("negatives"); w.int(negatives)
                w.key("solved_all"); w.int(batch.solvedAll)
                w.key("solved_none"); w.int(batch.solvedNone)
                w.key("solved_some"); w.int(batch.solvedSome)
                w.key("grad_norm"); w.double(update.gradNorm)
                w.key("grad_norm_psr"); w.double(update.gradNormPSR)
                w.key("grad_norm_nsr"); w.double(update.gradNormNSR)
                if config.filterGroups {
                    w.key("dropped_groups_all_correct"); w.int(dropped.allCorrect)
                    w.key("dropped_groups_all_wrong"); w.int(dropped.allWrong)
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
        // metrics.jsonl before the manifest (which the skeleton writes last): a crash between the
        // two leaves the step unevaluated, so the rerun evaluates it again, writes the same bytes and
        // finds them already appended. The other order could leave a finished run whose
        // metrics.jsonl lacks its last line.
        try MetricsLog(layout: env.layout).record(step: step, lines: w.bytes)
        return StageProduct(
            outputs: [.init(path: metricsFile, schema: Schema.metrics.rawValue, records: splits.count, bytes: w.bytes.count, digest: Digest.of(w.bytes).value)],
            stats: EvalStats(splits: splits),
            summary: "step \(step)/\(config.steps) \(config.objective.rawValue) w\(config.window): \(summaryLine)")
    }

    /// The exact metrics of `policy`, read from `path`, on one prompt set: computed once per checkpoint
    /// in a process (eval of step N needs checkpoint N-1's entropy, which eval of step N-1 computed;
    /// through ``ParsedFiles``, keyed by the checkpoint's digest).
    static func evaluation(_ env: StageEnvironment, _ path: String, _ policy: TabularPolicy, split: String,
                           rows: PromptRows) throws -> Evaluation {
        let temperature = env.config.evalTemperature
        return try env.files.value(env.layout.path(path), variant: "evaluation \(split) T=\(temperature)") {
            Evaluation.evaluate(policy: policy, rows: rows, temperature: temperature)
        }
    }

    /// A prompt set's rows, answer digits and row weights (``PromptRows``): the same at every step
    /// of a run, so made once per process (through ``ParsedFiles``, keyed by the prompt shard's digest).
    /// The variant names the digest `prompts` were parsed from: should the shard change between that
    /// parse and this lookup, rows of the old prompts are never recorded as the new file's.
    static func promptRows(_ env: StageEnvironment, split: String, prompts: TaskPrompts, space: ContextSpace) throws -> PromptRows {
        try env.files.value(env.layout.path(RunLayout.taskShard(split)),
                            variant: "prompt rows of \(prompts.digest), window \(space.window)") {
            PromptRows(space: space, prompts: prompts.pairs)
        }
    }

    /// The mass-redistribution diagnostic of step `step` (see ``RedistributionDiagnostic``): which
    /// rows got a wrong sample and which tokens any sample used there, from the split shards, and
    /// which digits are correct for some train prompt using each row.
    static func measureRedistribution(_ env: StageEnvironment, step: Int, before: TabularPolicy, after: TabularPolicy,
                                      shards: [Manifest.Output]) throws -> RedistributionDiagnostic {
        let space = before.space
        var tokens = SampledTokens(rowCount: space.rowCount)
        let train = try TaskPrompts.load(env, split: "train", withAnswers: false)
        // The same for every step of a run: computed once per process (through ParsedFiles, keyed by
        // the train shard's digest, and by the digest `train` was parsed from, as ``promptRows`` is),
        // from the train prompts' rows that an eval of the train split (`--eval-train`) uses too.
        let correct = try env.files.value(env.layout.path(RunLayout.taskShard("train")),
                                          variant: "correct digits per row of \(train.digest)") {
            let trainRows = try Self.promptRows(env, split: "train", prompts: train, space: space)
            var correct = [UInt16](repeating: 0, count: space.rowCount)
            for (row, digit) in zip(trainRows.rows, trainRows.digits) { correct[row] |= 1 << UInt16(digit) }
            return correct
        }
        for output in shards {
            // In-process, split handed over what it gathered while writing the shard (ParsedFiles).
            tokens.merge(try env.files.value(env.layout.path(output.path), variant: SampledTokens.cacheVariant) {
                var gathered = SampledTokens(rowCount: space.rowCount)
                // eval, like update, runs alone after the step's shards: read ahead when a second CPU is there.
                try env.forEachRollout(output, as: .verified, step: step, readAhead: true) { r in try gathered.add(r, space: space) }
                return gathered
            })
        }
        let (sampled, penalised) = (tokens.sampled, tokens.penalised)
        let p0 = before.probabilities(), p1 = after.probabilities()
        var diagnostic = RedistributionDiagnostic()
        for r in 0..<space.rowCount where penalised[r] != 0 {
            diagnostic.add(before: p0[(r * 10)..<(r * 10 + 10)], after: p1[(r * 10)..<(r * 10 + 10)],
                           penalised: penalised[r], sampled: sampled[r], correct: correct[r])
        }
        return diagnostic
    }
}
