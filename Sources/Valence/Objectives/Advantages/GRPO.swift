/// Group-relative: A = (r - mean) / (std + 1e-6) over the group's G rewards (population std); a
/// uniform group gives 0.
public struct GRPO: AdvantageRule {
    public init() {}
    public var correctCell: String { "(r - mean)/(std + 1e-6)" }
    public var wrongCell: String { "same formula" }
    public var reads: AdvantageInputs { [.positives, .negatives, .groups] }
    public func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double {
        let mean = Double(correct) / Double(groupSize)
        let std = (mean * (1 - mean)).squareRoot()
        return (Double(reward) - mean) / (std + 1e-6)
    }
}
