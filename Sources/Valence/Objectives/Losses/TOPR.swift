#if canImport(Glibc)
import Glibc
#endif

/// Tapered off-policy REINFORCE (docs/model.md 5 table): a wrong sample is scaled by
/// min(1, pi_theta(y) / pi_gen(y)) of its whole response, held constant, in place of the per-token
/// ratio; a correct sample gets no ratio. Equals reinforce while the policy has not moved.
public struct TOPR: LossRule {
    public init() {}
    public var name: String { "topr" }
    public var help: String { "wrong samples scaled by min(1, pi_theta(y)/pi_gen(y)) of the whole response (held constant); no per-token ratio" }
    public var usesRolloutFactor: Bool { true }
    /// docs/model.md 5.7 defines KL-Cov and Clip-Cov on the per-token ratio, which topr replaces.
    public var allowsCovariance: Bool { false }

    public func rolloutFactor(logRatio: Double) -> Double { Self.weight(logRatio: logRatio) }

    @inline(__always)
    public func token(advantage a: Double, factor: Double, rho: Double, probability p: Double, positive: Bool) -> (a: Double, w: Double) {
        let scaled = a * factor
        return (scaled, scaled)
    }

    /// min(1, pi_theta(y) / pi_gen(y)) over the whole response, from the summed log-ratio. When the
    /// policy has not moved since generation every term is exactly 0, so the weight is exactly 1.
    @inline(__always)
    public static func weight(logRatio: Double) -> Double {
        logRatio >= 0 ? 1 : exp(logRatio)
    }
}
