/// REINFORCE leave-one-out: A = r - mean of the other G - 1 rewards.
public struct RLOO: AdvantageRule {
    public init() {}
    public var correctCell: String { "r - mean of the other G-1 rewards" }
    public var wrongCell: String { "same formula" }
    public var reads: AdvantageInputs { [.positives, .negatives, .groups] }
    public func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double {
        Double(reward) - Double(correct - reward) / Double(groupSize - 1)
    }
}
