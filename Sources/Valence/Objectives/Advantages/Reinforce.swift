/// REINFORCE with rewards +-1: A = 1 for a correct sample, -1 for a wrong one.
public struct Reinforce: AdvantageRule {
    public init() {}
    public var correctCell: String { "1" }
    public var wrongCell: String { "-1" }
    public var reads: AdvantageInputs { [.positives, .negatives] }
    public func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double { reward == 1 ? 1 : -1 }
}
