/// Dr. GRPO: A = r - mean, without GRPO's division by the std.
public struct DrGRPO: AdvantageRule {
    public init() {}
    public var correctCell: String { "r - mean" }
    public var wrongCell: String { "same formula" }
    public var reads: AdvantageInputs { [.positives, .negatives, .groups] }
    public func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double {
        Double(reward) - Double(correct) / Double(groupSize)
    }
}
