/// The policy-gradient loss A rho log pi (docs/model.md 5.6, 5.7): a token's weight is A rho, with
/// rho = pi_theta(y) / pi_gen(y) (exactly 1 while the policy has not moved since generation, so the
/// plain step is A (onehot - pi)).
public struct PolicyGradientLoss: LossRule {
    public init() {}
    public var name: String { "policy-gradient" }
    public var help: String { "A log pi per token, importance-weighted: w = A rho (the plain step when on policy)" }

    @inline(__always)
    public func token(advantage a: Double, factor: Double, rho: Double, probability p: Double, positive: Bool) -> (a: Double, w: Double) {
        (a, a * rho)
    }
}
