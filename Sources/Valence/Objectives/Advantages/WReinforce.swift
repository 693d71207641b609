/// Weighted REINFORCE, lambda * PSR + NSR: A = lambda for a correct sample, -1 for a wrong one.
public struct WReinforce: AdvantageRule {
    public init() {}
    public var correctCell: String { "lambda [0.1]" }
    public var wrongCell: String { "-1" }
    public var reads: AdvantageInputs { [.positives, .negatives] }

    /// lambda: always part of the run's identity (it predates the update switches), whatever the objective.
    public static let lambdaField = ConfigField.double("lambda", make: "LAMBDA", 0.1, .always, "lambda of w-reinforce.", \.lambda) { c in
        c.lambda >= 0 && c.lambda <= 1e3 ? nil : "lambda = \(c.lambda) must be in [0, 1000]"
    }

    public func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double {
        reward == 1 ? config.lambda : -1
    }

    public func bind(_ config: RunConfig) -> AdvantageFunction {
        let lambda = config.lambda
        return { r, _, _ in r == 1 ? lambda : -1 }
    }
}
