/// `valence-split`: separates verified rollouts into positive (PSR) and negative (NSR) shards and
/// writes each prompt's group counts, so later stages never have to re-join the two.
public struct SplitStage: ShardedStagePart {
    public static let name = "split"
    public static let directory = "split"

    public let step: Int
    public let part: Int

    public init(step: Int, shard: Int) {
        self.step = step
        part = shard
    }

    public func plan(_ env: StageEnvironment) throws -> StagePlan {
        let input = try env.upstreamShard(step: step, VerifyStage.directory, shard: part, from: VerifyStage.name)
        return StagePlan(manifest: partManifest(env),
                         files: [input.outputs[0].path], identity: Self.name, upstream: [input])
    }

    public func produce(_ env: StageEnvironment, plan: StagePlan) throws -> StageProduct<SplitStats> {
        let files = ["positive", "negative", "groups"].map {
            RunLayout.shard(step: step, "\(Self.directory)/\($0)", shard: part, shards: env.config.shards)
        }
        let positive = try env.shardWriter(files[0])
        let negative = try env.shardWriter(files[1])
        let groups = try env.shardWriter(files[2])
        // A struct rather than locals shared with a nested function: a local var captured by two
        // closures is boxed and pays a dynamic exclusivity check on every record.
        var tally = GroupTally(run: env.runID, step: step)
        // In-process, what eval gathers from these shards is gathered here and handed to it (nil once
        // a record is one eval refuses: eval then reads the shard and says so).
        let space = env.writes.isOn ? try env.config.space : nil
        var gathered = space.map { [SampledTokens(rowCount: $0.rowCount), SampledTokens(rowCount: $0.rowCount)] }
        try env.forEachRollout(plan.upstream[0].outputs[0], as: .verified, step: step) { r, core in
            if r.prompt != tally.group.prompt {
                try tally.flush(into: groups)
                tally.start(prompt: r.prompt)
            }
            tally.add(r.verdict)
            let out = r.reward == 1 ? positive : negative
            if let space, gathered != nil {
                do { try gathered?[r.reward == 1 ? 0 : 1].add(r, space: space) } catch { gathered = nil }
            }
            try out.write(r, as: .verified, core: core)
        }
        try tally.flush(into: groups)
        let summaries = [try positive.commit(), try negative.commit(), try groups.commit()]
        for (i, tokens) in (gathered ?? []).enumerated() {
            env.files.insert(tokens, path: env.layout.path(files[i]), variant: SampledTokens.cacheVariant, written: summaries[i])
        }
        let schemas = [Schema.verified, .verified, .group]
        var stats = SplitStats()
        (stats.positives, stats.negatives, stats.groups) = (summaries[0].records, summaries[1].records, summaries[2].records)
        (stats.solvedAll, stats.solvedNone, stats.solvedSome) = (tally.solvedAll, tally.solvedNone, tally.solvedSome)
        return StageProduct(
            outputs: (0..<3).map { .init(path: files[$0], schema: schemas[$0], summaries[$0]) }, stats: stats,
            summary: "\(place(env)): \(stats.positives) positive, \(stats.negatives) negative, \(stats.groups) groups")
    }
}

/// The group record being counted and how many groups were solved by all, none or some samples.
struct GroupTally {
    var group = GroupRecord()
    var solvedAll = 0, solvedNone = 0, solvedSome = 0

    init(run: Identifier, step: Int) {
        group.run = run
        group.step = step
        group.prompt = -1
    }

    mutating func start(prompt: Int) {
        group.prompt = prompt
        group.samples = 0
        group.correct = 0
        group.wrong = 0
        group.malformed = 0
    }

    @inline(__always) mutating func add(_ verdict: Verdict) {
        group.samples += 1
        switch verdict {
        case .correct: group.correct += 1
        case .wrong: group.wrong += 1
        case .malformed: group.malformed += 1
        }
    }

    /// Writes the finished group (if any) and counts it.
    mutating func flush(into groups: ShardWriter) throws {
        guard group.prompt >= 0 else { return }
        group.encode(into: &groups.json)
        try groups.endRecord()
        if group.correct == group.samples { solvedAll += 1 }
        else if group.correct == 0 { solvedNone += 1 }
        else { solvedSome += 1 }
    }
}
