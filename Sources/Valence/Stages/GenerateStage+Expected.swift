/// generate in expected-gradient mode (docs/model.md 8): instead of drawing G rollouts per prompt it writes
/// the distributions they would be drawn from, one record per prompt (``ExpectedRecord``): per
/// position, the previous checkpoint's 10 probabilities at the prompt's context row. Like sampled
/// generate it never reads the reference answer. No randomness is used beyond the prompt draw.
extension GenerateStage {
    public static func runExpected(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        try env.checkStep(step)
        let config = env.config
        _ = try env.requireManifest(RunLayout.checkpointManifest(step - 1), from: "update", step: step - 1)
        let policyFile = RunLayout.policy(step - 1), trainFile = RunLayout.taskShard("train")
        let manifestFile = RunLayout.partManifest(step: step, directory, shard: shard, shards: config.shards)
        return try env.expectedPart(GenerateStage.self, step: step, shard: shard, manifest: manifestFile, files: [policyFile, trainFile]) { env in
            let space = try config.space
            let policy = try TabularPolicy.read(from: env.layout.path(policyFile), space: space).policy
            let probs = policy.probabilities()
            let prompts = try TaskPrompts.load(env, split: "train", withAnswers: false)
            let draw = BatchDraw.prompts(seed: config.seed, step: step, trainCount: prompts.count, batch: config.batch)
            var rows: [Int] = []
            let records = BatchDraw.slice(draw, shard: shard, shards: config.shards).map { id -> ExpectedRecord in
                var r = ExpectedRecord()
                r.run = env.runID
                r.step = step
                r.prompt = id
                r.a = prompts.a[id]
                r.b = prompts.b[id]
                space.rows(a: r.a, b: r.b, into: &rows)
                r.probs = rows.map { Array(probs[($0 * 10)..<($0 * 10 + 10)]) }
                return r
            }
            let out = try env.writeExpected(records, to: RunLayout.shard(step: step, directory, shard: shard, shards: config.shards))
            return ([out], [("prompts", .int(records.count)), ("rollouts", .int(records.count)), ("mode", .string("expected"))],
                    "\(records.count) prompts, expected over \(config.group) rollouts each")
        }
    }
}
