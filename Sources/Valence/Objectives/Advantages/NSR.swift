/// Negative Sample Reinforcement: A = 0 for a correct sample (never read), -1 for a wrong one.
public struct NSR: AdvantageRule {
    public init() {}
    public var correctCell: String { "0" }
    public var wrongCell: String { "-1" }
    public var reads: AdvantageInputs { [.negatives] }
    public func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double { reward == 1 ? 0 : -1 }
}
