/// PPO clipping (docs/model.md 5.7), with DAPO's asymmetric clip-higher: per token the surrogate
/// min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A) replaces A rho; its gradient is 0 where the
/// clipped branch is taken (A > 0 and rho > 1 + eps_high, or A < 0 and rho < 1 - eps_low).
/// `clip` sets both sides; `clip_low` / `clip_high` override one side.
public struct PPOClip: LossOption {
    public init() {}
    public var name: String { "ppo-clip" }
    public var help: String { "min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A): gradient 0 on the clipped branch (CLIP sets both sides)" }
    public var fields: [ConfigField] { [Self.lowField, Self.highField] }

    /// The symmetric epsilon (an update switch since before the registry; its position in config.json is fixed).
    public static let clipField = ConfigField.optionalDouble("clip", make: "CLIP", .unlessDefault,
                                                             "PPO clip epsilon, both sides (e.g. 0.2); default off.", \.clip) { c in
        guard let e = c.clip else { return nil }
        return e > 0 && e < 1 ? nil : "clip = \(e) must be in (0, 1) (or off)"
    }

    public static let lowField = ConfigField.parameter("clip_low", make: "CLIP_LOW", .double, optional: true, default: .null,
                                                       "eps_low of PPO clipping (default: CLIP).") { c in bound(c, "clip_low") }
    public static let highField = ConfigField.parameter("clip_high", make: "CLIP_HIGH", .double, optional: true, default: .null,
                                                        "eps_high of PPO clipping, DAPO's clip-higher (default: CLIP).") { c in bound(c, "clip_high") }

    static func bound(_ c: RunConfig, _ name: String) -> String? {
        guard let e = c.parameters[name]?.doubleValue else { return nil }
        return e > 0 && e < 1 ? nil : "\(name) = \(e) must be in (0, 1) (or off)"
    }

    /// (eps_low, eps_high); both nil when clipping is off.
    static func epsilons(_ c: RunConfig) -> (low: Double?, high: Double?) {
        (c.parameter(lowField).doubleValue ?? c.clip, c.parameter(highField).doubleValue ?? c.clip)
    }

    /// Whether the clipped branch is taken for advantage `a` and ratio `rho`.
    @inline(__always)
    static func clipped(a: Double, rho: Double, low: Double?, high: Double?) -> Bool {
        if a > 0, let high, rho > 1 + high { return true }
        if a < 0, let low, rho < 1 - low { return true }
        return false
    }
}
