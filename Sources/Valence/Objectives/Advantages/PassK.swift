/// Pass@k training (Chen et al. 2025, arXiv 2508.10751; docs/model.md 5 table): the advantage of a rollout is
/// its contribution to the group's Pass@k reward, normalized. With c correct of G,
/// rho = 1 - C(G-c, k)/C(G, k) is the mean over the group's size-k subsets of "some member is
/// correct", sigma = sqrt(rho (1 - rho)), and
///   correct: (1 - rho) / (sigma + 1e-6)
///   wrong:   (1 - rho - C(G-c-1, k-1)/C(G-1, k-1)) / (sigma + 1e-6)
/// A uniform group (all correct or all wrong) gives 0. k <= G is required.
public struct PassK: AdvantageRule {
    public init() {}
    public var correctCell: String { "(1 - rho)/(sigma + 1e-6)" }
    public var wrongCell: String { "(1 - rho - C(G-c-1, k-1)/C(G-1, k-1))/(sigma + 1e-6)" }
    public var reads: AdvantageInputs { [.positives, .negatives, .groups] }

    public static let kField = ConfigField.parameter("passk_k", make: "K_PASSK", .int, default: .int(4),
                                                     "k of passk: the subset size whose Pass@k the advantage rewards (k <= G).") { c in
        let k = c.parameters["passk_k"]?.intValue ?? 4
        return k >= 1 && k <= 1_000_000 ? nil : "passk's k = \(k) must be in 1...1000000"
    }
    public var fields: [ConfigField] { [Self.kField] }

    public static func k(_ config: RunConfig) -> Int { config.parameter(kField).intValue ?? 4 }

    public func check(_ config: RunConfig) -> String? {
        guard config.objective.advantageRule is PassK else { return nil }
        let k = Self.k(config)
        return k <= config.group ? nil : "passk needs k <= group (k = \(k), group = \(config.group))"
    }

    public func summaryParts(_ config: RunConfig) -> [String] { ["k = \(Self.k(config))"] }

    public func advantage(reward: Int, correct: Int, groupSize: Int, config: RunConfig) -> Double {
        Self.advantage(reward: reward, correct: correct, groupSize: groupSize, k: Self.k(config))
    }

    public func bind(_ config: RunConfig) -> AdvantageFunction {
        let k = Self.k(config)
        return { r, c, g in PassK.advantage(reward: r, correct: c, groupSize: g, k: k) }
    }

    /// The advantage; O(k) with the binomial ratios as running products (no large binomials).
    public static func advantage(reward: Int, correct c: Int, groupSize g: Int, k: Int) -> Double {
        if c <= 0 || c >= g { return 0 }
        let rho = 1 - ratio(g - c, g, k)
        let sigma = (rho * (1 - rho)).squareRoot()
        if reward == 1 { return (1 - rho) / (sigma + 1e-6) }
        return (1 - rho - ratio(g - c - 1, g - 1, k - 1)) / (sigma + 1e-6)
    }

    /// C(n, k) / C(m, k) for n <= m, as prod_{i<k} (n - i)/(m - i); 0 when n < k.
    static func ratio(_ n: Int, _ m: Int, _ k: Int) -> Double {
        if k <= 0 { return 1 }
        if n < k { return 0 }
        var p = 1.0
        for i in 0..<k { p *= Double(n - i) / Double(m - i) }
        return p
    }
}
