/// verify in expected-gradient mode (docs/model.md 8): the verifier's role is unchanged, judging against
/// the reference answer, but on a distribution rather than a sample. Exactly one response is
/// correct (the zero-padded answer, docs/model.md 2), so a rollout is correct with probability
/// p_x = prod_j pi(a_j | c_j(x)); every other response is wrong or malformed (reward 0).
extension VerifyStage {
    public static func runExpected(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        try env.checkStep(step)
        let config = env.config
        let input = try env.upstreamShard(step: step, GenerateStage.directory, shard: shard, from: "generate").outputs[0]
        let trainFile = RunLayout.taskShard("train")
        let manifestFile = RunLayout.partManifest(step: step, directory, shard: shard, shards: config.shards)
        return try env.expectedPart(VerifyStage.self, step: step, shard: shard, manifest: manifestFile, files: [input.path, trainFile]) { env in
            let task = try config.task
            let prompts = try TaskPrompts.load(env, split: "train", withAnswers: true)
            var records: [ExpectedRecord] = []
            var correct = 0.0
            try env.forEachExpected(input, step: step, need: ["probs"]) { r in
                guard r.prompt >= 0 && r.prompt < prompts.count else {
                    throw RecordError("prompt \(r.prompt) is not a train prompt (0..<\(prompts.count))")
                }
                guard prompts.a[r.prompt] == r.a && prompts.b[r.prompt] == r.b else {
                    throw RecordError("operands \(r.a)+\(r.b) differ from train prompt \(r.prompt) (\(prompts.a[r.prompt])+\(prompts.b[r.prompt]))")
                }
                guard let probs = r.probs, probs.count == task.length else {
                    throw RecordError("probs has \(r.probs?.count ?? 0) positions, the task's responses have \(task.length)")
                }
                let answer = prompts.answers[r.prompt]
                let digits = (0..<task.length).map { task.digit(answer, at: $0) }
                r.pTokens = (0..<task.length).map { probs[$0][digits[$0]] }
                guard r.pTokens?.allSatisfy({ (0...1).contains($0) }) == true else { throw RecordError("a probability is outside [0, 1]") }
                r.p = r.pTokens?.reduce(1, *)
                r.answer = String(decoding: digits.map { UInt8(48 + $0) }, as: UTF8.self)
                r.probs = nil
                correct += r.p ?? 0
                records.append(r)
            }
            let out = try env.writeExpected(records, to: RunLayout.shard(step: step, directory, shard: shard, shards: config.shards))
            let G = Double(config.group)
            return ([out], [("correct", .double(G * correct)), ("wrong", .double(G * (Double(records.count) - correct)))],
                    "expected \(formatNumber(G * correct, decimals: 2)) correct of \(records.count * config.group) rollouts")
        }
    }
}
