/// ppo's advantage: A_ij = r_i - V(c_ij) per token from a tabular critic (gamma = lambda = 1). The
/// rule owns the critic (``Critic``) and its learning rate: init writes V = 0, weight reads the
/// previous step's critic, update moves it after the policy.
public struct PPO: AdvantageRule {
    public init() {}
    public var correctCell: String { "r - V(c_ij) per token (gamma = lambda = 1)" }
    public var wrongCell: String { "same formula" }
    public var reads: AdvantageInputs { [.positives, .negatives, .critic] }

    /// The critic's learning rate (an update switch: in the identity only when not 0.5).
    public static let criticLearningRateField = ConfigField.double(
        "critic_lr", make: "CRITIC_LR", 0.5, .unlessDefault, "Learning rate of ppo's tabular critic.", \.criticLearningRate
    ) { c in
        c.criticLearningRate > 0 && c.criticLearningRate <= 1 ? nil : "critic lr = \(c.criticLearningRate) must be in (0, 1]"
    }

    /// The return r; weight subtracts V(c_ij) per position.
    public func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double { Double(reward) }
}
