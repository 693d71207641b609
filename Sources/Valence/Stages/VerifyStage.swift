/// `valence-verify`: judges each rollout against the task's reference answer.
public struct VerifyStage: ShardedStagePart {
    public static let name = "verify"
    public static let directory = "verified"

    public let step: Int
    public let part: Int

    public init(step: Int, shard: Int) {
        self.step = step
        part = shard
    }

    public func plan(_ env: StageEnvironment) throws -> StagePlan {
        let input = try env.upstreamShard(step: step, GenerateStage.directory, shard: part, from: GenerateStage.name)
        return StagePlan(manifest: partManifest(env),
                         files: [input.outputs[0].path, RunLayout.taskShard("train")], identity: Self.name, upstream: [input])
    }

    public func produce(_ env: StageEnvironment, plan: StagePlan) throws -> StageProduct<VerifyStats> {
        let verifier = Verifier(task: try env.config.task)
        let prompts = try TaskPrompts.load(env, split: "train", withAnswers: true)
        let outFile = RunLayout.shard(step: step, Self.directory, shard: part, shards: env.config.shards)
        let writer = try env.shardWriter(outFile)
        var stats = VerifyStats(correct: 0, wrong: 0, malformed: 0)
        try env.forEachRollout(plan.upstream[0].outputs[0], as: .rollout, step: step) { r, core in
            guard r.prompt >= 0 && r.prompt < prompts.count else {
                throw RecordError("prompt \(r.prompt) is not a train prompt (0..<\(prompts.count))")
            }
            guard prompts.a[r.prompt] == r.a && prompts.b[r.prompt] == r.b else {
                throw RecordError("operands \(r.a)+\(r.b) differ from train prompt \(r.prompt) (\(prompts.a[r.prompt])+\(prompts.b[r.prompt]))")
            }
            r.verdict = verifier.verdict(response: r.text, answer: prompts.answers[r.prompt])
            r.reward = r.verdict.reward
            switch r.verdict {
            case .correct: stats.correct += 1
            case .wrong: stats.wrong += 1
            case .malformed: stats.malformed += 1
            }
            try writer.write(r, as: .verified, core: core)
        }
        let summary = try writer.commit()
        return StageProduct(
            outputs: [.init(path: outFile, schema: .verified, summary)], stats: stats,
            summary: "\(place(env)): \(stats.correct) correct, \(stats.wrong) wrong, \(stats.malformed) malformed")
    }
}
