/// `valence-generate`: samples G rollouts per drawn prompt from the previous checkpoint's policy.
public enum GenerateStage {
    public static let directory = "rollouts"

    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        try env.checkStep(step)
        if env.config.rollouts == .expected { return try runExpected(env, step: step, shard: shard) }
        let config = env.config
        let shards = config.shards
        _ = try env.requireManifest(RunLayout.checkpointManifest(step - 1), from: "update", step: step - 1)
        let policyFile = RunLayout.policy(step - 1)
        let trainFile = RunLayout.taskShard("train")
        let manifestFile = RunLayout.partManifest(step: step, directory, shard: shard, shards: shards)
        let lock = try env.lockPart(manifestFile, stage: "generate")
        defer { lock.release() }
        let inputs = try env.inputDigest(stage: "generate", step: step, shard: shard, files: [policyFile, trainFile])
        if let done = env.upToDate(manifestFile, inputs: inputs) {
            env.say("generate: step \(step) part \(shard + 1)/\(shards) is up to date")
            return done
        }

        let space = try config.space
        let L = space.length
        let policy = try TabularPolicy.read(from: env.layout.path(policyFile), space: space).policy
        let logp = policy.logProbabilities()
        let probs = policy.probabilities()
        var cdf = probs
        for r in 0..<space.rowCount {
            var acc = 0.0
            for k in 0..<10 {
                acc += probs[r * 10 + k]
                cdf[r * 10 + k] = acc
            }
        }
        let prompts = try TaskPrompts.load(env, split: "train", withAnswers: false)
        let draw = BatchDraw.prompts(seed: config.seed, step: step, trainCount: prompts.count, batch: config.batch)
        let mine = BatchDraw.slice(draw, shard: shard, shards: shards)

        let outFile = RunLayout.shard(step: step, directory, shard: shard, shards: shards)
        let writer = try ShardWriter(path: env.layout.path(outFile))
        var rollout = Rollout()
        rollout.run = env.runID
        rollout.step = step
        rollout.tokens = [Int](repeating: 0, count: L)
        rollout.logp = [Double](repeating: 0, count: L)
        rollout.text = [UInt8](repeating: 48, count: L)
        var rows: [Int] = []
        for id in mine {
            let a = prompts.a[id], b = prompts.b[id]
            space.rows(a: a, b: b, into: &rows)
            rollout.prompt = id
            rollout.a = a
            rollout.b = b
            for s in 0..<config.group {
                var rng = CounterRNG(seed: config.seed, purpose: .rollout, UInt64(step), UInt64(id), UInt64(s))
                for j in 0..<L {
                    let base = rows[j] * 10
                    let u = rng.unit()
                    var k = 0
                    while k < 9 && u >= cdf[base + k] { k += 1 }
                    rollout.tokens[j] = k
                    rollout.logp[j] = logp[base + k]
                    rollout.text[j] = UInt8(48 + k)
                }
                rollout.sample = s
                rollout.encode(into: &writer.json, as: .rollout)
                try writer.endRecord()
            }
        }
        let summary = try writer.commit()
        let manifest = Manifest(
            stage: "generate", run: env.runID, step: step, shard: shard, shards: shards, inputs: inputs,
            outputs: [.init(path: outFile, schema: Schema.rollout.rawValue, records: summary.records, bytes: summary.bytes, digest: summary.digest)],
            stats: [("prompts", .int(mine.count)), ("rollouts", .int(summary.records))]
        )
        try manifest.write(to: env.layout.path(manifestFile))
        env.say("generate: step \(step) part \(shard + 1)/\(shards): \(mine.count) prompts x \(config.group) = \(summary.records) rollouts")
        return manifest
    }
}
