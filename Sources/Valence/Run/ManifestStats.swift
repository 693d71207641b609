/// A stage's manifest stats as a typed value: written as the manifest's `stats` object, read back
/// with every field required (a missing or mistyped stat is an error naming the manifest, never a
/// silent default).
public protocol ManifestStats: Sendable {
    /// The stats in the order the manifest writes them.
    var fields: [(String, JSONValue)] { get }
    /// Reads the stats of `manifest`, read from `path` (for messages).
    init(_ manifest: Manifest, path: String) throws
}

/// Reads one manifest's stats by key, failing clearly on a missing or mistyped one.
public struct StatsReader {
    let manifest: Manifest
    let path: String

    public init(_ manifest: Manifest, path: String) {
        self.manifest = manifest
        self.path = path
    }

    public func has(_ key: String) -> Bool { manifest.stat(key) != nil }

    public func int(_ key: String) throws -> Int {
        guard let v = manifest.stat(key)?.intValue else { throw missing(key, "an integer") }
        return v
    }

    public func double(_ key: String) throws -> Double {
        guard let v = manifest.stat(key)?.doubleValue else { throw missing(key, "a number") }
        return v
    }

    public func string(_ key: String) throws -> String {
        guard case .string(let v)? = manifest.stat(key) else { throw missing(key, "a string") }
        return v
    }

    /// The stat when present (stats a switch adds only when it is on).
    public func optionalInt(_ key: String) throws -> Int? { has(key) ? try int(key) : nil }
    public func optionalDouble(_ key: String) throws -> Double? { has(key) ? try double(key) : nil }

    private func missing(_ key: String, _ what: String) -> ValenceError {
        .badData(path: path, line: nil, detail: "stat \"\(key)\" is missing or not \(what)")
    }
}

/// `valence-init`'s task and base-policy manifests, and any part whose stats nothing reads back.
public struct NoStats: ManifestStats {
    public var fields: [(String, JSONValue)] { [] }
    public init() {}
    public init(_ manifest: Manifest, path: String) throws {}
}

/// generate: prompts drawn for the part and rollouts written.
public struct GenerateStats: ManifestStats {
    public var prompts: Int
    public var rollouts: Int

    public init(prompts: Int, rollouts: Int) {
        self.prompts = prompts
        self.rollouts = rollouts
    }

    public var fields: [(String, JSONValue)] { [("prompts", .int(prompts)), ("rollouts", .int(rollouts))] }

    public init(_ manifest: Manifest, path: String) throws {
        let r = StatsReader(manifest, path: path)
        self.init(prompts: try r.int("prompts"), rollouts: try r.int("rollouts"))
    }
}

/// verify: verdict counts.
public struct VerifyStats: ManifestStats {
    public var correct: Int
    public var wrong: Int
    public var malformed: Int

    public init(correct: Int, wrong: Int, malformed: Int) {
        self.correct = correct
        self.wrong = wrong
        self.malformed = malformed
    }

    public var fields: [(String, JSONValue)] {
        [("correct", .int(correct)), ("wrong", .int(wrong)), ("malformed", .int(malformed))]
    }

    public init(_ manifest: Manifest, path: String) throws {
        let r = StatsReader(manifest, path: path)
        self.init(correct: try r.int("correct"), wrong: try r.int("wrong"), malformed: try r.int("malformed"))
    }
}

/// split: sample and group counts, and how many groups were solved by all, none or some samples.
public struct SplitStats: ManifestStats {
    public var positives = 0
    public var negatives = 0
    public var groups = 0
    public var solvedAll = 0
    public var solvedNone = 0
    public var solvedSome = 0

    public init() {}

    public var fields: [(String, JSONValue)] {
        [("positives", .int(positives)), ("negatives", .int(negatives)), ("groups", .int(groups)),
         ("solved_all", .int(solvedAll)), ("solved_none", .int(solvedNone)), ("solved_some", .int(solvedSome))]
    }

    public init(_ manifest: Manifest, path: String) throws {
        let r = StatsReader(manifest, path: path)
        positives = try r.int("positives")
        negatives = try r.int("negatives")
        groups = try r.int("groups")
        solvedAll = try r.int("solved_all")
        solvedNone = try r.int("solved_none")
        solvedSome = try r.int("solved_some")
    }

    /// The sum over a step's parts.
    public static func + (a: SplitStats, b: SplitStats) -> SplitStats {
        var s = SplitStats()
        s.positives = a.positives + b.positives
        s.negatives = a.negatives + b.negatives
        s.groups = a.groups + b.groups
        s.solvedAll = a.solvedAll + b.solvedAll
        s.solvedNone = a.solvedNone + b.solvedNone
        s.solvedSome = a.solvedSome + b.solvedSome
        return s
    }
}

/// weight: the objective, the weighted sample counts and advantage sums it wrote (only for the
/// kinds it read), and, with group filtering, what it dropped.
public struct WeightStats: ManifestStats {
    public struct Dropped: Sendable, Equatable {
        public var allCorrect: Int
        public var allWrong: Int
        public var rollouts: Int
    }

    public var objective: String
    public var positives: Int?
    public var advantageSumPositive: Double?
    public var negatives: Int?
    public var advantageSumNegative: Double?
    public var dropped: Dropped?

    public init(objective: String) { self.objective = objective }

    public var fields: [(String, JSONValue)] {
        var f: [(String, JSONValue)] = [("objective", .string(objective))]
        if let positives, let advantageSumPositive {
            f += [("positives", .int(positives)), ("adv_sum_positive", .double(advantageSumPositive))]
        }
        if let negatives, let advantageSumNegative {
            f += [("negatives", .int(negatives)), ("adv_sum_negative", .double(advantageSumNegative))]
        }
        if let dropped {
            f += [("dropped_groups_all_correct", .int(dropped.allCorrect)), ("dropped_groups_all_wrong", .int(dropped.allWrong)),
                  ("dropped_rollouts", .int(dropped.rollouts))]
        }
        return f
    }

    public init(_ manifest: Manifest, path: String) throws {
        let r = StatsReader(manifest, path: path)
        objective = try r.string("objective")
        positives = try r.optionalInt("positives")
        advantageSumPositive = try r.optionalDouble("adv_sum_positive")
        negatives = try r.optionalInt("negatives")
        advantageSumNegative = try r.optionalDouble("adv_sum_negative")
        if r.has("dropped_rollouts") {
            dropped = Dropped(allCorrect: try r.int("dropped_groups_all_correct"), allWrong: try r.int("dropped_groups_all_wrong"),
                              rollouts: try r.int("dropped_rollouts"))
        }
    }
}

/// update: the optimizer's step counter, gradient norms (whole, PSR part, NSR part), visits, and
/// what the switches that are on did.
public struct UpdateStats: ManifestStats {
    public var t: Int
    public var gradNorm = 0.0
    public var gradNormPSR = 0.0
    public var gradNormNSR = 0.0
    public var visitsPSR = 0
    public var visitsNSR = 0
    /// M, when more than one.
    public var minibatches: Int?
    /// Fraction of tokens on the clipped branch, with PPO clipping.
    public var clipFraction: Double?
    /// Optimizer steps whose gradient was norm-clipped, with gradient clipping.
    public var gradClippedSteps: Int?
    /// Mean truncated-ratio weight of topr's negatives.
    public var toprMeanWeight: Double?
    /// Tokens KL-Cov or Clip-Cov selected over the step's minibatches.
    public var klCovTokens: Int?
    public var clipCovTokens: Int?

    public init(t: Int) { self.t = t }

    public var fields: [(String, JSONValue)] {
        var f: [(String, JSONValue)] = [
            ("t", .int(t)), ("grad_norm", .double(gradNorm)), ("grad_norm_psr", .double(gradNormPSR)),
            ("grad_norm_nsr", .double(gradNormNSR)), ("visits_psr", .int(visitsPSR)), ("visits_nsr", .int(visitsNSR)),
        ]
        if let minibatches { f.append(("minibatches", .int(minibatches))) }
        if let clipFraction { f.append(("clip_fraction", .double(clipFraction))) }
        if let gradClippedSteps { f.append(("grad_clipped_steps", .int(gradClippedSteps))) }
        if let toprMeanWeight { f.append(("topr_mean_weight", .double(toprMeanWeight))) }
        if let klCovTokens { f.append(("kl_cov_tokens", .int(klCovTokens))) }
        if let clipCovTokens { f.append(("clip_cov_tokens", .int(clipCovTokens))) }
        return f
    }

    public init(_ manifest: Manifest, path: String) throws {
        let r = StatsReader(manifest, path: path)
        t = try r.int("t")
        // The base checkpoint (step 0, written by valence-init) has no gradient.
        if manifest.step > 0 {
            gradNorm = try r.double("grad_norm")
            gradNormPSR = try r.double("grad_norm_psr")
            gradNormNSR = try r.double("grad_norm_nsr")
            visitsPSR = try r.int("visits_psr")
            visitsNSR = try r.int("visits_nsr")
        }
        minibatches = try r.optionalInt("minibatches")
        clipFraction = try r.optionalDouble("clip_fraction")
        gradClippedSteps = try r.optionalInt("grad_clipped_steps")
        toprMeanWeight = try r.optionalDouble("topr_mean_weight")
        klCovTokens = try r.optionalInt("kl_cov_tokens")
        clipCovTokens = try r.optionalInt("clip_cov_tokens")
    }
}

/// eval: which prompt sets were evaluated.
public struct EvalStats: ManifestStats {
    public var splits: [String]

    public init(splits: [String]) { self.splits = splits }

    public var fields: [(String, JSONValue)] { [("splits", .array(splits.map { .string($0) }))] }

    public init(_ manifest: Manifest, path: String) throws {
        guard case .array(let items)? = manifest.stat("splits") else {
            throw ValenceError.badData(path: path, line: nil, detail: "stat \"splits\" is missing or not a list")
        }
        splits = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }
}

extension Manifest.Output {
    /// The manifest entry of a file just written.
    public init(path: String, schema: Schema, _ summary: ShardSummary) {
        self.init(path: path, schema: schema.rawValue, records: summary.records, bytes: summary.bytes, digest: summary.digest)
    }
}
