/// `valence-verify`: judges each rollout against the task's reference answer.
public enum VerifyStage {
    public static let directory = "verified"

    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        try env.checkStep(step)
        if env.config.rollouts == .expected { return try runExpected(env, step: step, shard: shard) }
        let shards = env.config.shards
        let input = try env.upstreamShard(step: step, GenerateStage.directory, shard: shard, from: "generate")
        let trainFile = RunLayout.taskShard("train")
        let manifestFile = RunLayout.partManifest(step: step, directory, shard: shard, shards: shards)
        let lock = try env.lockPart(manifestFile, stage: "verify")
        defer { lock.release() }
        let inputs = try env.inputDigest(stage: "verify", step: step, shard: shard, files: [input.path, trainFile])
        if let done = env.upToDate(manifestFile, inputs: inputs) {
            env.say("verify: step \(step) part \(shard + 1)/\(shards) is up to date")
            return done
        }

        let verifier = Verifier(task: try env.config.task)
        let prompts = try TaskPrompts.load(env, split: "train", withAnswers: true)
        let outFile = RunLayout.shard(step: step, directory, shard: shard, shards: shards)
        let writer = try ShardWriter(path: env.layout.path(outFile))
        var counts = [0, 0, 0]
        try env.forEachRollout(input, as: .rollout, step: step) { r, core in
            guard r.prompt >= 0 && r.prompt < prompts.count else {
                throw RecordError("prompt \(r.prompt) is not a train prompt (0..<\(prompts.count))")
            }
            guard prompts.a[r.prompt] == r.a && prompts.b[r.prompt] == r.b else {
                throw RecordError("operands \(r.a)+\(r.b) differ from train prompt \(r.prompt) (\(prompts.a[r.prompt])+\(prompts.b[r.prompt]))")
            }
            r.verdict = verifier.verdict(response: r.text, answer: prompts.answers[r.prompt])
            r.reward = r.verdict.reward
            switch r.verdict {
            case .correct: counts[0] += 1
            case .wrong: counts[1] += 1
            case .malformed: counts[2] += 1
            }
            r.encode(into: &writer.json, as: .verified, core: core)
            try writer.endRecord()
        }
        let summary = try writer.commit()
        let manifest = Manifest(
            stage: "verify", run: env.runID, step: step, shard: shard, shards: shards, inputs: inputs,
            outputs: [.init(path: outFile, schema: Schema.verified.rawValue, records: summary.records, bytes: summary.bytes, digest: summary.digest)],
            stats: [("correct", .int(counts[0])), ("wrong", .int(counts[1])), ("malformed", .int(counts[2]))]
        )
        try manifest.write(to: env.layout.path(manifestFile))
        env.say("verify: step \(step) part \(shard + 1)/\(shards): \(counts[0]) correct, \(counts[1]) wrong, \(counts[2]) malformed")
        return manifest
    }
}
