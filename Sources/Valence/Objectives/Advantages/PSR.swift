/// Positive Sample Reinforcement: A = 1 for a correct sample, 0 for a wrong one (never reads them).
public struct PSR: AdvantageRule {
    public init() {}
    public var correctCell: String { "1" }
    public var wrongCell: String { "0" }
    public var reads: AdvantageInputs { [.positives] }
    public func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double { reward == 1 ? 1 : 0 }
}
