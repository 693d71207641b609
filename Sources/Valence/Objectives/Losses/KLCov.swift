/// KL-Cov (Cui et al. 2025, arXiv 2505.22617; docs/model.md 5.7): in each minibatch, over its tokens t with
/// A_t the token's advantage and l_t = log pi_theta(y_t), cov_t = (A_t - mean A)(l_t - mean l); the
/// max(1, floor(ratio * tokens)) tokens of largest cov_t (ties: lower (prompt, sample, position)
/// first) use the surrogate rho A - coef |log rho|, all others rho A. No PPO clipping in this mode.
/// The penalty's gradient weight is -coef sign(log rho) (0 where log rho = 0, as on policy).
public struct KLCov: LossOption {
    public init() {}
    public var name: String { "kl-cov" }
    public var help: String { "the ratio*tokens tokens of largest cov(A, log pi) per minibatch get - coef |log rho| (KL_COV=on: ratio 0.002, coef 1)" }
    public var fields: [ConfigField] { [Self.ratioField, Self.coefField] }

    public static let ratioField = ConfigField.parameter("kl_cov", make: "KL_COV", .double, optional: true, on: 0.002, default: .null,
                                                         "KL-Cov's token ratio (on = 0.002); default off.") { c in
        guard let r = c.parameters["kl_cov"]?.doubleValue else { return nil }
        return r > 0 && r <= 1 ? nil : "kl_cov = \(r) must be in (0, 1] (or off)"
    }
    public static let coefField = ConfigField.parameter("kl_cov_coef", make: "KL_COV_COEF", .double, default: .double(1),
                                                        "KL-Cov's coefficient of |log rho|.") { c in
        let k = c.parameters["kl_cov_coef"]?.doubleValue ?? 1
        return k >= 0 && k <= 1e3 ? nil : "kl_cov_coef = \(k) must be in [0, 1000]"
    }

    /// Indices (into the minibatch's token list) of the selected tokens: the n of largest cov, ties
    /// by token order. O(T log T).
    public static func select(covariances cov: [Double], ratio: Double) -> [Int] {
        guard !cov.isEmpty else { return [] }
        let n = min(cov.count, max(1, Int((ratio * Double(cov.count)).rounded(.down))))
        let order = cov.indices.sorted { cov[$0] != cov[$1] ? cov[$0] > cov[$1] : $0 < $1 }
        return Array(order.prefix(n))
    }
}
