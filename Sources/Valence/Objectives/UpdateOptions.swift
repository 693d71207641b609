/// The parts of an update that go beyond the plain step (docs/model.md 5.7), read from the run config: the
/// objective's loss rule and the loss options. The defaults reproduce the plain step bit for bit.
public struct UpdateOptions: Sendable, Equatable {
    /// M: optimizer steps per training step, one per minibatch.
    public var minibatches = 1
    /// PPO clipping's eps_low and eps_high; nil is off on that side.
    public var clipLow: Double?
    public var clipHigh: Double?
    public var entropyCoef = 0.0
    public var klCoef = 0.0
    /// Largest gradient norm handed to the optimizer; nil is off.
    public var gradClip: Double?
    /// How advantages become gradient weights (the objective's loss rule).
    public var loss: any LossRule = PolicyGradientLoss()
    /// KL-Cov's token ratio and coefficient; nil is off.
    public var klCov: (ratio: Double, coef: Double)?
    /// Clip-Cov's token ratio and covariance bounds; nil is off.
    public var clipCov: (ratio: Double, lower: Double, upper: Double)?

    public init() {}

    public init(config: RunConfig) {
        minibatches = config.minibatches
        (clipLow, clipHigh) = PPOClip.epsilons(config)
        entropyCoef = config.entropyCoef
        klCoef = config.klCoef
        gradClip = config.gradClip
        loss = config.objective.lossRule
        if let r = config.parameter(KLCov.ratioField).doubleValue {
            klCov = (r, config.parameter(KLCov.coefField).doubleValue ?? 1)
        }
        if let r = config.parameter(ClipCov.ratioField).doubleValue {
            clipCov = (r, config.parameter(ClipCov.lowerField).doubleValue ?? 1, config.parameter(ClipCov.upperField).doubleValue ?? 5)
        }
    }

    /// Symmetric PPO clipping: reads eps when both sides agree, sets both.
    public var clip: Double? {
        get { clipLow == clipHigh ? clipLow : nil }
        set { clipLow = newValue; clipHigh = newValue }
    }

    /// Whether the options need a minibatch's tokens all at once (the covariance selections).
    public var needsWholeMinibatch: Bool { klCov != nil || clipCov != nil }

    var needsVisitCounts: Bool { entropyCoef != 0 || klCoef != 0 }

    public static func == (l: UpdateOptions, r: UpdateOptions) -> Bool {
        l.minibatches == r.minibatches && l.clipLow == r.clipLow && l.clipHigh == r.clipHigh && l.entropyCoef == r.entropyCoef
            && l.klCoef == r.klCoef && l.gradClip == r.gradClip && l.loss.name == r.loss.name
            && l.klCov?.ratio == r.klCov?.ratio && l.klCov?.coef == r.klCov?.coef
            && l.clipCov?.ratio == r.clipCov?.ratio && l.clipCov?.lower == r.clipCov?.lower && l.clipCov?.upper == r.clipCov?.upper
    }

    /// The options in words, for reports (beyond M and the symmetric clip).
    var summaryParts: [String] {
        var parts: [String] = []
        if let klCov { parts.append("KL-Cov \(formatNumber(klCov.ratio, decimals: 5)) coef \(formatNumber(klCov.coef, decimals: 3))") }
        if let clipCov {
            parts.append("Clip-Cov \(formatNumber(clipCov.ratio, decimals: 5)) in (\(formatNumber(clipCov.lower, decimals: 3)), \(formatNumber(clipCov.upper, decimals: 3)))")
        }
        return parts
    }

    /// Refuses the combinations docs/model.md 5.7 does not define (exit 78).
    public static func validate(_ config: RunConfig) throws {
        func refuse(_ m: String) throws { throw ValenceError.config(detail: m) }
        let o = UpdateOptions(config: config)
        if (o.clipLow == nil) != (o.clipHigh == nil) {
            try refuse("clip_low and clip_high need each other or clip (set CLIP for both sides, or both CLIP_LOW and CLIP_HIGH)")
        }
        if o.klCov != nil && o.clipCov != nil { try refuse("KL-Cov and Clip-Cov are alternatives; set only one of kl_cov and clip_cov") }
        if o.klCov != nil && o.clipLow != nil { try refuse("KL-Cov is defined without PPO clipping; leave clip, clip_low and clip_high off") }
        if o.clipCov != nil && o.clipLow == nil { try refuse("Clip-Cov clips as PPO does; set clip (e.g. 0.2) with clip_cov") }
    }
}
