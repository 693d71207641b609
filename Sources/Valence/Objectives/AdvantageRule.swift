/// What an advantage rule reads from split's outputs and the previous checkpoint.
public struct AdvantageInputs: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The positive (correct) rollouts.
    public static let positives = AdvantageInputs(rawValue: 1)
    /// The negative (wrong) rollouts.
    public static let negatives = AdvantageInputs(rawValue: 2)
    /// The per-prompt group counts (how many of G were correct).
    public static let groups = AdvantageInputs(rawValue: 4)
    /// A critic over contexts (per-token advantages r - V(c)).
    public static let critic = AdvantageInputs(rawValue: 8)
}

/// A(r, c) with the run's parameters bound: the advantage of a rollout with reward r (0 or 1) in a
/// group of G with c correct. Called once per rollout by weight.
public typealias AdvantageFunction = @Sendable (_ reward: Int, _ correct: Int, _ groupSize: Int) -> Double

/// The advantage half of an objective (docs/model.md 5 table). Each rule is one file in Advantages/ with its
/// parameters (config fields it owns), their defaults and help text.
public protocol AdvantageRule: Sendable {
    /// The table's cells for a correct and a wrong sample (docs and `--list-objectives`).
    var correctCell: String { get }
    var wrongCell: String { get }
    var reads: AdvantageInputs { get }
    /// Config fields this rule owns (declared in its file; listed once by the registry).
    var fields: [ConfigField] { get }
    /// A(r, c) under the run's parameters. Rules with per-token advantages (a critic) return the
    /// return r here; weight subtracts the critic per token.
    func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double
    /// The same with the parameters read once.
    func bind(_ config: RunConfig) -> AdvantageFunction
    /// Why the run cannot use this rule (nil when it can).
    func check(_ config: RunConfig) -> String?
    func summaryParts(_ config: RunConfig) -> [String]
}

extension AdvantageRule {
    public var fields: [ConfigField] { [] }
    public func check(_ config: RunConfig) -> String? { nil }
    public func summaryParts(_ config: RunConfig) -> [String] { [] }
    public func bind(_ config: RunConfig) -> AdvantageFunction {
        let rule = self
        return { r, c, g in rule.advantage(reward: r, correct: c, groupSize: g, config: config) }
    }
}
