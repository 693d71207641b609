/// Clip-Cov (Cui et al. 2025, arXiv 2505.22617; docs/model.md 5.7): PPO clipping as usual, and of the tokens
/// not already clipped whose cov_t = (A_t - mean A)(l_t - mean l) lies strictly between the bounds,
/// max(1, floor(ratio * tokens)) chosen uniformly at random get gradient 0. The draw uses the
/// step's and minibatch's own counter-RNG stream (purpose `clipCov`), over the candidates in
/// canonical (prompt, sample, position) order, so it does not depend on the sharding.
public struct ClipCov: LossOption {
    public init() {}
    public var name: String { "clip-cov" }
    public var help: String { "PPO clipping, and ratio*tokens random tokens with cov(A, log pi) in (lb, ub) get gradient 0 (CLIP_COV=on: ratio 0.0002, bounds 1, 5; needs CLIP)" }
    public var fields: [ConfigField] { [Self.ratioField, Self.lowerField, Self.upperField] }

    public static let ratioField = ConfigField.parameter("clip_cov", make: "CLIP_COV", .double, optional: true, on: 0.0002, default: .null,
                                                         "Clip-Cov's token ratio (on = 0.0002); default off.") { c in
        guard let r = c.parameters["clip_cov"]?.doubleValue else { return nil }
        return r > 0 && r <= 1 ? nil : "clip_cov = \(r) must be in (0, 1] (or off)"
    }
    public static let lowerField = ConfigField.parameter("clip_cov_lb", make: "CLIP_COV_LB", .double, default: .double(1),
                                                         "Clip-Cov's lower covariance bound.")
    public static let upperField = ConfigField.parameter("clip_cov_ub", make: "CLIP_COV_UB", .double, default: .double(5),
                                                         "Clip-Cov's upper covariance bound.") { c in
        let lb = c.parameters["clip_cov_lb"]?.doubleValue ?? 1, ub = c.parameters["clip_cov_ub"]?.doubleValue ?? 5
        return lb < ub && abs(lb) <= 1e9 && abs(ub) <= 1e9 ? nil : "clip_cov_lb = \(lb) must be below clip_cov_ub = \(ub) (both within 1e9)"
    }

    /// Indices of the selected tokens: candidates are the tokens not `clipped` with lb < cov < ub;
    /// min(candidates, max(1, floor(ratio * T))) of them by a partial Fisher-Yates shuffle with `rng`.
    public static func select(covariances cov: [Double], clipped: [Bool], ratio: Double, lower: Double, upper: Double,
                              rng: inout CounterRNG) -> [Int] {
        var candidates = cov.indices.filter { !clipped[$0] && cov[$0] > lower && cov[$0] < upper }
        let n = min(candidates.count, max(1, Int((ratio * Double(cov.count)).rounded(.down))))
        for i in 0..<n {
            let j = i + rng.below(candidates.count - i)
            candidates.swapAt(i, j)
        }
        return Array(candidates.prefix(n)).sorted()
    }
}
