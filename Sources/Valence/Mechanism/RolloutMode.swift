/// How a step turns the policy into a training signal: G sampled rollouts per prompt (docs/model.md 5),
/// or their exact expectation (docs/model.md 8, expected-gradient mode). See docs/mechanism.md.
public enum RolloutMode: String, Sendable, CaseIterable {
    case sampled
    case expected

    /// The config field `rollouts` (make ROLLOUTS, valence-init --rollouts): part of the run id only
    /// when expected, and absent from a sampled run's config.json, so sampled runs keep their ids
    /// and their config.json bytes.
    static let field: ConfigField = {
        var f = ConfigField("rollouts", make: "ROLLOUTS", .text, default: .string(RolloutMode.sampled.rawValue),
                            choices: RolloutMode.allCases.map(\.rawValue), identity: .unlessDefault,
                            help: "sampled: G rollouts per prompt; expected: their exact expectation (docs/mechanism.md).",
                            get: { .string($0.rollouts.rawValue) },
                            set: { c, v in
                                guard let mode = RolloutMode(rawValue: v.stringValue ?? "") else {
                                    throw ValenceError.config(detail: "unknown rollouts \"\(v.stringValue ?? "")\" (sampled or expected)")
                                }
                                c.rollouts = mode
                            },
                            check: { $0.expectedModeProblem })
        f.recordedAtDefault = false
        return f
    }()
}

extension RunConfig {
    /// Why this config cannot run in expected mode: the switches docs/model.md 8 leaves undefined
    /// there (minibatches M > 1, PPO clipping including clip-higher, KL-Cov, Clip-Cov, the
    /// unlikelihood loss of nsr-ul), refused at init with one line (exit 78). nil when it can (or
    /// the run samples). Entropy bonus, KL, weight decay, gradient clipping and group filtering stay.
    var expectedModeProblem: String? {
        guard rollouts == .expected else { return nil }
        let options = UpdateOptions(config: self)
        var refused: [String] = []
        if minibatches != 1 { refused.append("minibatches \(minibatches) (needs 1)") }
        if options.clipLow != nil || options.clipHigh != nil { refused.append("PPO clip") }
        if options.klCov != nil { refused.append("KL-Cov") }
        if options.clipCov != nil { refused.append("Clip-Cov") }
        if objective.rawValue == "nsr-ul" { refused.append("nsr-ul's unlikelihood loss") }
        guard !refused.isEmpty else { return nil }
        return "rollouts = expected does not define " + refused.joined(separator: ", ")
            + " (docs/model.md 8); use rollouts = sampled or drop the switch"
    }
}
