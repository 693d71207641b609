/// Unlikelihood loss on wrong samples (Welleck et al. 2019; docs/model.md 5.7; objective nsr-ul): each token
/// of a wrong sample contributes |A| log(1 - pi_theta(y)) instead of A log pi_theta(y), so its weight
/// is -|A| pi(y) / (1 - pi(y)): NSR's push scaled by pi(y)/(1 - pi(y)), strongest on the tokens the
/// policy is surest of. Correct samples keep the policy-gradient weight A rho.
public struct Unlikelihood: LossRule {
    public init() {}
    public var name: String { "unlikelihood" }
    public var help: String { "wrong samples: |A| log(1 - pi_theta(y)) per token, w = -|A| pi/(1 - pi); correct samples as policy-gradient" }
    /// docs/model.md 5.7 defines it without a ratio: no clipping, no covariance options.
    public var allowsClip: Bool { false }
    public var allowsCovariance: Bool { false }

    /// 1 - pi is kept at least this, so a token the policy is certain of gets a large, finite weight.
    static let floor = 1e-12

    @inline(__always)
    public func token(advantage a: Double, factor: Double, rho: Double, probability p: Double, positive: Bool) -> (a: Double, w: Double) {
        if positive { return (a, a * rho) }
        return (a, -abs(a) * p / max(1 - p, Self.floor))
    }
}
