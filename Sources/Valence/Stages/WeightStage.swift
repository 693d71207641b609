/// `valence-weight`: gives each rollout its objective's advantage (SPEC 5 table).
///
/// It reads only what the objective needs: psr never opens the negative shard, nsr never the
/// positive one, and only group-relative objectives (grpo, rloo, dr-grpo) read the group counts.
public enum WeightStage {
    public static let directory = "weighted"

    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        try env.checkStep(step)
        let config = env.config
        let objective = config.objective
        let shards = config.shards
        let upstreamFile = RunLayout.partManifest(step: step, SplitStage.directory, shard: shard, shards: shards)
        let upstream = try env.requireManifest(upstreamFile, from: "split", step: step)
        func input(_ kind: String) throws -> Manifest.Output {
            guard let o = upstream.outputs.first(where: { $0.path.contains("/\(SplitStage.directory)/\(kind)/") }) else {
                throw ValenceError.badData(path: env.layout.path(upstreamFile), line: nil, detail: "lists no \(kind) shard")
            }
            return o
        }
        var reads: [(kind: String, output: Manifest.Output)] = []
        if objective.readsPositives { reads.append(("positive", try input("positive"))) }
        if objective.readsNegatives { reads.append(("negative", try input("negative"))) }
        let groupsInput = objective.readsGroups ? try input("groups") : nil

        let manifestFile = RunLayout.partManifest(step: step, directory, shard: shard, shards: shards)
        let inputs = try env.inputDigest(stage: "weight", step: step, shard: shard,
                                         files: reads.map(\.output.path) + (groupsInput.map { [$0.path] } ?? []))
        if let done = env.upToDate(manifestFile, inputs: inputs) {
            env.say("weight: step \(step) part \(shard + 1)/\(shards) is up to date")
            return done
        }

        // Group counts by prompt, for the group-relative objectives.
        var correctByPrompt: [Int: Int] = [:]
        if let groupsInput {
            var g = GroupRecord()
            let path = env.layout.path(groupsInput.path)
            let result = try ShardReader.forEachLine(path) { line, _ in
                try g.decode(line)
                guard g.run == env.runID, g.step == step else { throw RecordError("group record is from another run or step") }
                guard g.samples == config.group else {
                    throw RecordError("prompt \(g.prompt) has \(g.samples) samples, the run's group size is \(config.group)")
                }
                guard correctByPrompt.updateValue(g.correct, forKey: g.prompt) == nil else {
                    throw RecordError("duplicate group for prompt \(g.prompt)")
                }
            }
            guard result.records == groupsInput.records else {
                throw ValenceError.badData(path: path, line: nil, detail: "holds \(result.records) records but its manifest says \(groupsInput.records)")
            }
        }

        var outputs: [Manifest.Output] = []
        var stats: [(String, JSONValue)] = [("objective", .string(objective.rawValue))]
        for (kind, output) in reads {
            let outFile = RunLayout.shard(step: step, "\(directory)/\(kind)", shard: shard, shards: shards)
            let writer = try ShardWriter(path: env.layout.path(outFile))
            var sum = 0.0
            try env.forEachRollout(output, as: .verified, step: step) { r in
                guard (r.reward == 1) == (kind == "positive") else {
                    throw RecordError("a rollout with reward \(r.reward) in the \(kind) shard")
                }
                var correct = 0
                if objective.readsGroups {
                    guard let c = correctByPrompt[r.prompt] else { throw RecordError("prompt \(r.prompt) has no group record") }
                    correct = c
                }
                r.advantage = objective.advantage(reward: r.reward, correct: correct, groupSize: config.group, lambda: config.lambda)
                sum += r.advantage
                r.encode(into: &writer.json, as: .weighted)
                try writer.endRecord()
            }
            let s = try writer.commit()
            outputs.append(.init(path: outFile, schema: Schema.weighted.rawValue, records: s.records, bytes: s.bytes, digest: s.digest))
            stats.append((kind == "positive" ? "positives" : "negatives", .int(s.records)))
            stats.append((kind == "positive" ? "adv_sum_positive" : "adv_sum_negative", .double(sum)))
        }
        let manifest = Manifest(stage: "weight", run: env.runID, step: step, shard: shard, shards: shards,
                                inputs: inputs, outputs: outputs, stats: stats)
        try manifest.write(to: env.layout.path(manifestFile))
        env.say("weight: step \(step) part \(shard + 1)/\(shards): \(objective.rawValue) advantages for \(outputs.map(\.records).reduce(0, +)) rollouts")
        return manifest
    }
}
