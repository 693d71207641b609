/// A policy-gradient objective: an advantage rule (what weight reads and the advantage it gives
/// each rollout) paired with a loss rule (how update turns advantages into a gradient).
///
/// The list of objectives is ``Objective/all`` (ObjectiveRegistry.swift); stages ask an objective
/// what to read and do and never name one.
public struct Objective: Sendable, Hashable, CustomStringConvertible {
    /// The name used on the command line, in config.json and in reports.
    public let rawValue: String
    public let advantageRule: any AdvantageRule
    public let lossRule: any LossRule
    /// Its colour in every figure (``ObjectivePalette``).
    public let color: String
    /// One line for `valence-init --list-objectives` and the docs table.
    public let summary: String

    public init(_ name: String, _ advantage: any AdvantageRule, loss: any LossRule = PolicyGradientLoss(), color: String, summary: String) {
        rawValue = name
        advantageRule = advantage
        lossRule = loss
        self.color = color
        self.summary = summary
    }

    /// The registered objective of this name.
    public init?(rawValue: String) {
        guard let o = Objective.all.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = o
    }

    /// The registry's list (``all``), under the name the enum it replaced used.
    public static var allCases: [Objective] { all }

    public static func == (l: Objective, r: Objective) -> Bool { l.rawValue == r.rawValue }
    public func hash(into h: inout Hasher) { h.combine(rawValue) }
    public var description: String { rawValue }

    /// Which of split's outputs weight must read: PSR never looks at wrong samples, NSR never at
    /// correct ones, and only the group-relative objectives need the per-prompt counts.
    public var readsPositives: Bool { advantageRule.reads.contains(.positives) }
    public var readsNegatives: Bool { advantageRule.reads.contains(.negatives) }
    public var readsGroups: Bool { advantageRule.reads.contains(.groups) }
    /// Whether the objective keeps a critic beside the policy (ppo): init writes its step-0 file,
    /// weight reads it for per-token advantages, update moves it.
    public var usesCritic: Bool { advantageRule.reads.contains(.critic) }
    /// Whether the advantage differs per position: weight then writes `adv_tokens`.
    public var hasTokenAdvantages: Bool { usesCritic }

    /// A_i for a rollout with reward `reward` in a group of `groupSize` with `correct` correct, with
    /// `lambda` for w-reinforce and the other parameters at their defaults (tests and tools).
    public func advantage(reward: Int, correct: Int, groupSize: Int, lambda: Double) -> Double {
        var c = RunConfig()
        c.lambda = lambda
        return advantageRule.advantage(reward: reward, correct: correct, groupSize: groupSize, config: c)
    }

    /// The advantage function with the run's parameters bound, for weight's per-rollout loop.
    public func advantages(_ config: RunConfig) -> AdvantageFunction { advantageRule.bind(config) }

    /// Checks the objective's needs against the run (e.g. group sizes, passk's k <= G).
    public func validate(_ config: RunConfig) throws {
        if readsGroups && config.group < 2 {
            throw ValenceError.config(detail: "\(rawValue) needs group >= 2 (it compares samples within a group), got \(config.group)")
        }
        if let problem = advantageRule.check(config) { throw ValenceError.config(detail: problem) }
        if let problem = lossRule.check(config, objective: self) { throw ValenceError.config(detail: problem) }
    }

    /// The objective's own parameters in words, for reports.
    func summaryParts(_ config: RunConfig) -> [String] { advantageRule.summaryParts(config) }
}
