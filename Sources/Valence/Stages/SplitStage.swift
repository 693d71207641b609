/// `valence-split`: separates verified rollouts into positive (PSR) and negative (NSR) shards and
/// writes each prompt's group counts, so later stages never have to re-join the two.
public enum SplitStage {
    public static let directory = "split"

    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        try env.checkStep(step)
        if env.config.rollouts == .expected { return try runExpected(env, step: step, shard: shard) }
        let shards = env.config.shards
        let input = try env.upstreamShard(step: step, VerifyStage.directory, shard: shard, from: "verify")
        let manifestFile = RunLayout.partManifest(step: step, directory, shard: shard, shards: shards)
        let lock = try env.lockPart(manifestFile, stage: "split")
        defer { lock.release() }
        let inputs = try env.inputDigest(stage: "split", step: step, shard: shard, files: [input.path])
        if let done = env.upToDate(manifestFile, inputs: inputs) {
            env.say("split: step \(step) part \(shard + 1)/\(shards) is up to date")
            return done
        }

        let files = ["positive", "negative", "groups"].map {
            RunLayout.shard(step: step, "\(directory)/\($0)", shard: shard, shards: shards)
        }
        let positive = try ShardWriter(path: env.layout.path(files[0]))
        let negative = try ShardWriter(path: env.layout.path(files[1]))
        let groups = try ShardWriter(path: env.layout.path(files[2]))
        // A struct rather than locals shared with a nested function: a local var captured by two
        // closures is boxed and pays a dynamic exclusivity check on every record.
        var tally = GroupTally(run: env.runID, step: step)
        try env.forEachRollout(input, as: .verified, step: step) { r, core in
            if r.prompt != tally.group.prompt {
                try tally.flush(into: groups)
                tally.start(prompt: r.prompt)
            }
            tally.add(r.verdict)
            let out = r.reward == 1 ? positive : negative
            r.encode(into: &out.json, as: .verified, core: core)
            try out.endRecord()
        }
        try tally.flush(into: groups)
        let (solvedAll, solvedNone, solvedSome) = (tally.solvedAll, tally.solvedNone, tally.solvedSome)
        let summaries = [try positive.commit(), try negative.commit(), try groups.commit()]
        let schemas = [Schema.verified, .verified, .group]
        let manifest = Manifest(
            stage: "split", run: env.runID, step: step, shard: shard, shards: shards, inputs: inputs,
            outputs: (0..<3).map { .init(path: files[$0], schema: schemas[$0].rawValue, records: summaries[$0].records, bytes: summaries[$0].bytes, digest: summaries[$0].digest) },
            stats: [
                ("positives", .int(summaries[0].records)), ("negatives", .int(summaries[1].records)),
                ("groups", .int(summaries[2].records)), ("solved_all", .int(solvedAll)),
                ("solved_none", .int(solvedNone)), ("solved_some", .int(solvedSome)),
            ]
        )
        try manifest.write(to: env.layout.path(manifestFile))
        env.say("split: step \(step) part \(shard + 1)/\(shards): \(summaries[0].records) positive, \(summaries[1].records) negative, \(summaries[2].records) groups")
        return manifest
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
