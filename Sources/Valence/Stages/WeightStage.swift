/// `valence-weight`: gives each rollout its objective's advantage (SPEC 5 table).
///
/// It reads only what the objective needs: psr never opens the negative shard, nsr never the
/// positive one, and only group-relative objectives (grpo, rloo, dr-grpo) and group filtering read
/// the group counts. ppo also reads the critic of the previous checkpoint and writes per-token
/// advantages (`adv_tokens`). With group filtering, rollouts of groups that are all correct or all
/// wrong are left out, and the dropped counts go into the manifest's stats.
public enum WeightStage {
    public static let directory = "weighted"

    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        try env.checkStep(step)
        if env.config.rollouts == .expected { return try runExpected(env, step: step, shard: shard) }
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
        let needsGroups = objective.readsGroups || config.filterGroups
        let groupsInput = needsGroups ? try input("groups") : nil
        let criticFile = objective == .ppo ? RunLayout.critic(step - 1) : nil

        let manifestFile = RunLayout.partManifest(step: step, directory, shard: shard, shards: shards)
        let lock = try env.lockPart(manifestFile, stage: "weight")
        defer { lock.release() }
        let inputs = try env.inputDigest(stage: "weight", step: step, shard: shard,
                                         files: reads.map(\.output.path) + (groupsInput.map { [$0.path] } ?? [])
                                             + (criticFile.map { [$0] } ?? []))
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

        // Uniform groups (all correct or all wrong) carry no contrast; filtering drops them.
        var dropAllCorrect = 0, dropAllWrong = 0
        if config.filterGroups {
            for correct in correctByPrompt.values {
                if correct == config.group { dropAllCorrect += 1 } else if correct == 0 { dropAllWrong += 1 }
            }
        }
        @inline(__always) func dropped(_ prompt: Int) -> Bool {
            guard config.filterGroups, let c = correctByPrompt[prompt] else { return false }
            return c == 0 || c == config.group
        }

        let space = try config.space
        let critic = try criticFile.map { try Critic.read(from: env.layout.path($0), space: space) }
        var rows: [Int] = []
        var rowsPrompt = -1

        var outputs: [Manifest.Output] = []
        var stats: [(String, JSONValue)] = [("objective", .string(objective.rawValue))]
        for (kind, output) in reads {
            let outFile = RunLayout.shard(step: step, "\(directory)/\(kind)", shard: shard, shards: shards)
            let writer = try ShardWriter(path: env.layout.path(outFile))
            var sum = 0.0
            try env.forEachRollout(output, as: .verified, step: step) { r, core in
                guard (r.reward == 1) == (kind == "positive") else {
                    throw RecordError("a rollout with reward \(r.reward) in the \(kind) shard")
                }
                var correct = 0
                if needsGroups {
                    guard let c = correctByPrompt[r.prompt] else { throw RecordError("prompt \(r.prompt) has no group record") }
                    correct = c
                }
                if dropped(r.prompt) { return }
                r.advantage = objective.advantage(reward: r.reward, correct: correct, groupSize: config.group, lambda: config.lambda)
                if let critic {
                    guard r.tokens.count == space.length else {
                        throw RecordError("\(r.tokens.count) tokens, the task's responses have \(space.length)")
                    }
                    if r.prompt != rowsPrompt {
                        space.rows(a: r.a, b: r.b, into: &rows)
                        rowsPrompt = r.prompt
                    }
                    critic.advantages(reward: r.reward, rows: rows, into: &r.advantageTokens)
                    r.advantage = r.advantageTokens.reduce(0, +) / Double(rows.count)
                }
                sum += r.advantage
                r.encode(into: &writer.json, as: .weighted, core: core)
                try writer.endRecord()
            }
            let s = try writer.commit()
            outputs.append(.init(path: outFile, schema: Schema.weighted.rawValue, records: s.records, bytes: s.bytes, digest: s.digest))
            stats.append((kind == "positive" ? "positives" : "negatives", .int(s.records)))
            stats.append((kind == "positive" ? "adv_sum_positive" : "adv_sum_negative", .double(sum)))
        }
        if config.filterGroups {
            stats.append(("dropped_groups_all_correct", .int(dropAllCorrect)))
            stats.append(("dropped_groups_all_wrong", .int(dropAllWrong)))
            stats.append(("dropped_rollouts", .int((dropAllCorrect + dropAllWrong) * config.group)))
        }
        let manifest = Manifest(stage: "weight", run: env.runID, step: step, shard: shard, shards: shards,
                                inputs: inputs, outputs: outputs, stats: stats)
        try manifest.write(to: env.layout.path(manifestFile))
        env.say("weight: step \(step) part \(shard + 1)/\(shards): \(objective.rawValue) advantages for \(outputs.map(\.records).reduce(0, +)) rollouts")
        return manifest
    }
}
