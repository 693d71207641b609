/// How a step turns the policy into a training signal: G sampled rollouts per prompt (SPEC 5), or
/// their exact expectation (SPEC 8, expected-gradient mode). See docs/mechanism.md.
public enum RolloutMode: String, Sendable, CaseIterable {
    case sampled
    case expected
}

extension RunConfig {
    /// The switches SPEC 8 leaves undefined in expected mode, refused with one line (exit 78).
    /// Entropy bonus, KL, weight decay, gradient clipping and group filtering stay allowed.
    func validateRolloutMode() throws {
        guard rollouts == .expected else { return }
        var refused: [String] = []
        if minibatches != 1 { refused.append("minibatches \(minibatches) (needs 1)") }
        if clip != nil { refused.append("PPO clip") }
        guard refused.isEmpty else {
            throw ValenceError.config(detail: "rollouts = expected does not define " + refused.joined(separator: ", ")
                                      + " (SPEC 8); use rollouts = sampled or drop the switch")
        }
    }
}
