/// `valence-generate`: samples G rollouts per drawn prompt from the previous checkpoint's policy.
public struct GenerateStage: ShardedStagePart {
    public static let name = "generate"
    public static let directory = "rollouts"

    public let step: Int
    public let part: Int

    public init(step: Int, shard: Int) {
        self.step = step
        part = shard
    }

    public func plan(_ env: StageEnvironment) throws -> StagePlan {
        // Only that update is done: its optimizer state may still be being written (in-process).
        _ = try env.requireManifest(RunLayout.checkpointManifest(step - 1), from: "update", step: step - 1, pending: true)
        return StagePlan(manifest: partManifest(env),
                         files: [RunLayout.policy(step - 1), RunLayout.taskShard("train")], identity: Self.name)
    }

    public func produce(_ env: StageEnvironment, plan: StagePlan) throws -> StageProduct<GenerateStats> {
        let config = env.config
        let shards = config.shards
        let shard = part
        let policyFile = plan.files[0]
        let space = try config.space
        let L = space.length
        let policy = try env.policy(policyFile, space: space)
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

        let outFile = RunLayout.shard(step: step, Self.directory, shard: shard, shards: shards)
        let writer = try env.shardWriter(outFile)
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
                try writer.write(rollout, as: .rollout)
            }
        }
        let summary = try writer.commit()
        return StageProduct(
            outputs: [.init(path: outFile, schema: .rollout, summary)],
            stats: GenerateStats(prompts: mine.count, rollouts: summary.records),
            summary: "\(place(env)): \(mine.count) prompts x \(config.group) = \(summary.records) rollouts")
    }
}
