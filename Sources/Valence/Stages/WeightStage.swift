/// `valence-weight`: gives each rollout its objective's advantage (docs/model.md 5 table).
///
/// It reads only what the objective needs: psr never opens the negative shard, nsr never the
/// positive one, and only group-relative objectives (grpo, rloo, dr-grpo) and group filtering read
/// the group counts. ppo also reads the critic of the previous checkpoint and writes per-token
/// advantages (`adv_tokens`). With group filtering, rollouts of groups that are all correct or all
/// wrong are left out, and the dropped counts go into the manifest's stats.
public struct WeightStage: ShardedStagePart {
    public static let name = "weight"
    public static let directory = "weighted"

    public let step: Int
    public let part: Int

    public init(step: Int, shard: Int) {
        self.step = step
        part = shard
    }

    /// The split shards the objective needs, in the order read: positive, negative (as needed).
    struct Reads {
        var shards: [(kind: String, output: Manifest.Output)] = []
        var groups: Manifest.Output?
        var critic: String?
    }

    /// What to read of the split part whose manifest is `upstream`.
    func reads(_ env: StageEnvironment, upstream: Manifest) throws -> Reads {
        let config = env.config
        let objective = config.objective
        let upstreamFile = RunLayout.partManifest(step: step, SplitStage.directory, shard: part, shards: config.shards)
        func input(_ kind: String) throws -> Manifest.Output {
            guard let o = upstream.outputs.first(where: { $0.path.contains("/\(SplitStage.directory)/\(kind)/") }) else {
                throw ValenceError.badData(path: env.layout.path(upstreamFile), line: nil, detail: "lists no \(kind) shard")
            }
            return o
        }
        var reads = Reads()
        if objective.readsPositives { reads.shards.append(("positive", try input("positive"))) }
        if objective.readsNegatives { reads.shards.append(("negative", try input("negative"))) }
        if objective.readsGroups || config.filterGroups { reads.groups = try input("groups") }
        if objective.usesCritic { reads.critic = RunLayout.critic(step - 1) }
        return reads
    }

    public func plan(_ env: StageEnvironment) throws -> StagePlan {
        let upstreamFile = RunLayout.partManifest(step: step, SplitStage.directory, shard: part, shards: env.config.shards)
        let upstream = try env.requireManifest(upstreamFile, from: SplitStage.name, step: step)
        let r = try reads(env, upstream: upstream)
        return StagePlan(manifest: partManifest(env),
                         files: r.shards.map(\.output.path) + (r.groups.map { [$0.path] } ?? []) + (r.critic.map { [$0] } ?? []),
                         identity: Self.name, upstream: [upstream])
    }

    public func produce(_ env: StageEnvironment, plan: StagePlan) throws -> StageProduct<WeightStats> {
        let config = env.config
        let objective = config.objective
        let shards = config.shards
        let shard = part
        let inputs = try reads(env, upstream: plan.upstream[0])
        let needsGroups = inputs.groups != nil
        let groupsInput = inputs.groups
        let criticFile = inputs.critic

        // Group counts by prompt, for the group-relative objectives.
        var correctByPrompt: [Int: Int] = [:]
        if let groupsInput {
            var g = GroupRecord()
            let path = env.layout.path(groupsInput.path)
            let result = try ShardReader.forEachLine(path, digest: false) { line, _ in
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
        let advantage = objective.advantages(config)
        let critic = try criticFile.map { try Critic.read(from: env.layout.path($0), space: space) }
        var rows: [Int] = []
        var rowsPrompt = -1

        var outputs: [Manifest.Output] = []
        var stats = WeightStats(objective: objective.rawValue)
        for (kind, output) in inputs.shards {
            let outFile = RunLayout.shard(step: step, "\(Self.directory)/\(kind)", shard: shard, shards: shards)
            let writer = try env.shardWriter(outFile)
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
                r.advantage = advantage(r.reward, correct, config.group)
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
                try writer.write(r, as: .weighted, core: core)
            }
            let s = try writer.commit()
            outputs.append(.init(path: outFile, schema: .weighted, s))
            if kind == "positive" {
                (stats.positives, stats.advantageSumPositive) = (s.records, sum)
            } else {
                (stats.negatives, stats.advantageSumNegative) = (s.records, sum)
            }
        }
        if config.filterGroups {
            stats.dropped = .init(allCorrect: dropAllCorrect, allWrong: dropAllWrong, rollouts: (dropAllCorrect + dropAllWrong) * config.group)
        }
        return StageProduct(
            outputs: outputs, stats: stats,
            summary: "\(place(env)): \(objective.rawValue) advantages for \(outputs.map(\.records).reduce(0, +)) rollouts")
    }
}
