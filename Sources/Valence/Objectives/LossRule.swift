/// The loss half of an objective: how update turns a token's advantage into its gradient weight w,
/// the gradient being sum over visits of w (onehot(y) - pi_theta) / (G L) (docs/model.md 5.6, 5.7).
///
/// Each rule is one file in Losses/. The loss options every rule may combine with (PPO clipping,
/// KL-Cov, Clip-Cov) are ``LossOption``s; a rule says which of them docs/model.md defines for it.
public protocol LossRule: LossOption {
    /// Whether the rule scales a wrong sample by a factor of its whole response (topr).
    var usesRolloutFactor: Bool { get }
    /// The factor from the summed log-ratio of a wrong sample's response (1 when unused).
    func rolloutFactor(logRatio: Double) -> Double
    /// The token's advantage as the clip rule sees it, and its gradient weight, from the
    /// advantage `a`, the rollout factor, the importance ratio rho = pi_theta(y) / pi_gen(y) and
    /// pi_theta(y). Hot: called once per visit.
    func token(advantage a: Double, factor: Double, rho: Double, probability p: Double, positive: Bool) -> (a: Double, w: Double)
    /// Which options docs/model.md defines with this rule.
    var allowsClip: Bool { get }
    var allowsCovariance: Bool { get }
}

extension LossRule {
    public var usesRolloutFactor: Bool { false }
    public func rolloutFactor(logRatio: Double) -> Double { 1 }
    public var allowsClip: Bool { true }
    public var allowsCovariance: Bool { true }

    /// Refuses the options this rule does not define (exit 78).
    public func check(_ config: RunConfig, objective: Objective) -> String? {
        let options = UpdateOptions(config: config)
        if !allowsClip && (options.clipLow != nil || options.clipHigh != nil) {
            return "\(objective.rawValue) (\(name) loss) is not defined with PPO clipping; leave clip, clip_low and clip_high off"
        }
        if !allowsCovariance && (options.klCov != nil || options.clipCov != nil) {
            return "\(objective.rawValue) (\(name) loss) is not defined with KL-Cov or Clip-Cov"
        }
        return nil
    }
}

/// A named part of the loss with its config fields and help (`valence-init --list-losses`).
public protocol LossOption: Sendable {
    var name: String { get }
    var help: String { get }
    var fields: [ConfigField] { get }
}

extension LossOption {
    public var fields: [ConfigField] { [] }
}
