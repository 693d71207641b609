/// `valence-eval`: exact metrics of a checkpoint (SPEC 6), joined with the step's batch and
/// gradient statistics, appended to the run's `metrics.jsonl`.
public enum EvalStage {
    public static let directory = "eval"

    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int) throws -> Manifest {
        try env.checkStep(step, allowZero: true)
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
        var files = [RunLayout.policy(step), RunLayout.checkpointManifest(step)] + splits.map { RunLayout.taskShard($0) }
        files += (0..<splitManifests.count).map { RunLayout.partManifest(step: step, SplitStage.directory, shard: $0, shards: config.shards) }
        files += (0..<weightManifests.count).map { RunLayout.partManifest(step: step, WeightStage.directory, shard: $0, shards: config.shards) }
        let inputs = try env.inputDigest(stage: "eval", step: step, files: files)
        if let done = env.upToDate(manifestFile, inputs: inputs) {
            env.say("eval: step \(step) is up to date")
            try rebuildMetrics(env)
            return done
        }

        let space = try config.space
        let policy = try TabularPolicy.read(from: env.layout.path(RunLayout.policy(step)), space: space).policy
        func sum(_ key: String) -> Int { splitManifests.reduce(0) { $0 + ($1.stat(key)?.intValue ?? 0) } }
        let positives = sum("positives"), negatives = sum("negatives")

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
            if step > 0 {
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
        try manifest.write(to: env.layout.path(manifestFile))
        try rebuildMetrics(env)
        env.say("eval: step \(step)/\(config.steps) \(config.objective.rawValue) w\(config.window): \(summaryLine)")
        return manifest
    }

    /// Rewrites `RUN/metrics.jsonl` from every evaluated step, in step order: rerunning an eval can
    /// never duplicate a line, and a crash mid-write leaves the previous complete file.
    public static func rebuildMetrics(_ env: StageEnvironment) throws {
        var bytes: [UInt8] = []
        let names = (try? FileSystem.list(env.layout.path("steps"))) ?? []
        for name in names {
            guard let step = Int(name), FileSystem.exists(env.layout.path(RunLayout.evalManifest(step))) else { continue }
            bytes += try FileSystem.readFile(env.layout.path("\(RunLayout.stepDirectory(step))/\(directory)/metrics.jsonl"))
        }
        if (try? FileSystem.readFile(env.layout.metrics)) != bytes {
            try FileSystem.writeAtomically(env.layout.metrics, bytes: bytes)
        }
    }
}
