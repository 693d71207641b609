/// The declarations of the run config's fields, in config.json order (docs/model.md's defaults).
///
/// Identity fields come first in the order the run id has always hashed them; the update switches
/// follow (part of the id only when set), then the fields owned by objective and loss rules (declared
/// in their own files, listed by ``Objective/ruleFields``), then steps and shards. Changing this order
/// changes config.json and every run id.
extension RunConfig {
    public static let fields: [ConfigField] = identityFields + switchFields + Objective.ruleFields + executionFields

    /// The field for a config.json key.
    public static func field(_ key: String) -> ConfigField? { fields.first { $0.key == key } }

    static let identityFields: [ConfigField] = [
        ConfigField("seed", make: "SEED", .int, default: .int(1), identity: .always,
                    help: "Run seed: fixes the prompt split, the base policy and every rollout.",
                    get: { .int(Int(bitPattern: UInt($0.seed))) },
                    set: { c, v in c.seed = UInt64(bitPattern: Int64(v.intValue ?? 1)) }),
        ConfigField("task", noFlag: true, make: nil, .text, default: .string("add"), choices: ["add"], identity: .always,
                    help: "The task (only add).",
                    get: { _ in .string("add") },
                    set: { _, v in
                        guard v.stringValue == "add" else {
                            throw ValenceError.config(detail: "unknown task \"\(v.stringValue ?? "")\" (Valence knows \"add\")")
                        }
                    }),
        .int("digits", make: "DIGITS", 3, .always, "Operand digits nd (task add).", \.digits),
        .int("train_prompts", flag: "train", make: "TRAIN", 2000, .always, "Train prompts.", \.trainPrompts, check: promptCounts),
        .int("test_prompts", flag: "test", make: "TEST", 1000, .always, "Test prompts.", \.testPrompts),
        .int("window", make: "WINDOW", 0, .always, "Context window w: carry hints from w lower positions.", \.window),
        .double("alpha", make: "ALPHA", 0.5, .always, "Add-alpha smoothing of the base policy.", \.alpha) { c in
            c.alpha >= 1e-6 && c.alpha <= 1e6 ? nil : "alpha = \(c.alpha) must be in [0.000001, 1000000]"
        },
        .int("corpus", make: "CORPUS", 20_000, .always, "Corpus size C for the base policy.", \.corpus) { c in
            c.corpus >= 1 && c.corpus <= 100_000_000 ? nil : "corpus = \(c.corpus) must be in 1...100000000"
        },
        .double("forget", make: "FORGET", 0.5, .always, "Probability f that the noisy student forgets the carry.", \.forget) { c in
            (0...1).contains(c.forget) ? nil : "forget = \(c.forget) must be in [0, 1]"
        },
        .double("noise", make: "NOISE", 0.1, .always, "Probability s that the noisy student writes a uniform digit.", \.noise) { c in
            (0...1).contains(c.noise) ? nil : "noise = \(c.noise) must be in [0, 1]"
        },
        // Temperatures and the scale of advantages are bounded so that every logit, probability and
        // statistic a run writes stays a finite number (JSON has no NaN or infinity).
        .double("base_temperature", make: "BASE_TEMP", 1.0, .always, "Temperature T of the base policy's logits.", \.baseTemperature) { c in
            c.baseTemperature >= 1e-3 && c.baseTemperature <= 1e3 ? nil : "base temperature = \(c.baseTemperature) must be in [0.001, 1000]"
        },
        ConfigField("objective", make: "OBJECTIVE", .text, default: .string(Objective.wReinforce.rawValue),
                    choices: Objective.all.map(\.rawValue), identity: .always,
                    help: "Objective (valence-init --list-objectives).",
                    get: { .string($0.objective.rawValue) },
                    set: { c, v in
                        let name = v.stringValue ?? ""
                        guard let o = Objective(rawValue: name) else { throw ValenceError.config(detail: "unknown objective \"\(name)\"") }
                        c.objective = o
                    }),
        WReinforce.lambdaField,
        .int("batch", make: "BATCH", 64, .always, "Prompts per step B.", \.batch) { c in
            c.batch >= 1 && c.batch <= c.trainPrompts ? nil : "batch = \(c.batch) must be in 1...\(c.trainPrompts) (the train prompts)"
        },
        .int("group", make: "GROUP", 8, .always, "Rollouts per prompt G.", \.group) { c in
            c.group >= 1 && c.group <= 1_000_000 ? nil : "group = \(c.group) must be in 1...1000000"
        },
        ConfigField("optimizer", make: "OPTIM", .text, default: .string(OptimizerKind.adam.rawValue),
                    choices: OptimizerKind.allCases.map(\.rawValue), identity: .always,
                    help: "Optimizer.",
                    get: { .string($0.optimizer.rawValue) },
                    set: { c, v in
                        let name = v.stringValue ?? ""
                        guard let k = OptimizerKind(rawValue: name) else { throw ValenceError.config(detail: "unknown optimizer \"\(name)\"") }
                        c.optimizer = k
                    }),
        .double("lr", make: "LR", 0.03, .always, "Learning rate (default: 0.03 for adam and adamw, 1.0 for sgd).", \.learningRate,
                derived: .init { .double($0.optimizer.defaultLearningRate) }) { c in
            c.learningRate > 0 && c.learningRate <= 1e3 ? nil : "lr = \(c.learningRate) must be in (0, 1000]"
        },
        .double("eval_temperature", make: "EVAL_TEMP", 1.0, .always, "Temperature of the evaluated policy softmax(z / T).", \.evalTemperature) { c in
            c.evalTemperature >= 1e-3 && c.evalTemperature <= 1e3 ? nil : "eval temperature = \(c.evalTemperature) must be in [0.001, 1000]"
        },
        .bool("eval_train", make: "EVAL_TRAIN", .always, "Also evaluate on the train prompts.", \.evalTrain),
    ]

    /// The update switches (docs/model.md 5.7): part of the identity only when set.
    static let switchFields: [ConfigField] = [
        .int("minibatches", make: "MINIBATCHES", 1, .unlessDefault, "Minibatches M per step: one optimizer step each, seeded shuffle.", \.minibatches) { c in
            c.minibatches >= 1 && c.minibatches <= c.batch * c.group
                ? nil : "minibatches = \(c.minibatches) must be in 1...\(c.batch * c.group) (the rollouts per step)"
        },
        PPOClip.clipField,
        .double("entropy_coef", make: "ENTROPY", 0, .unlessDefault, "Entropy bonus coefficient.", \.entropyCoef) { c in
            c.entropyCoef >= 0 && c.entropyCoef <= 1e3 ? nil : "entropy coefficient = \(c.entropyCoef) must be in [0, 1000]"
        },
        .double("kl_coef", make: "KL", 0, .unlessDefault, "Coefficient of KL(pi || base policy).", \.klCoef) { c in
            c.klCoef >= 0 && c.klCoef <= 1e3 ? nil : "KL coefficient = \(c.klCoef) must be in [0, 1000]"
        },
        .double("weight_decay", make: "WD", 0, .unlessDefault, "adamw's decoupled weight decay (default 0.01; adamw only).", \.weightDecay,
                derived: .init { .double($0.optimizer == .adamw ? OptimizerKind.defaultWeightDecay : 0) }) { c in
            if !(c.weightDecay >= 0 && c.weightDecay < 1 / c.learningRate) { return "weight decay = \(c.weightDecay) must be in [0, 1/lr)" }
            if c.weightDecay != 0 && c.optimizer != .adamw {
                return "weight decay = \(c.weightDecay) needs the adamw optimizer (the run uses \(c.optimizer.rawValue))"
            }
            return nil
        },
        .optionalDouble("grad_clip", make: "GRAD_CLIP", .unlessDefault, "Clip each gradient to this Frobenius norm; default off.", \.gradClip) { c in
            guard let g = c.gradClip else { return nil }
            return g > 0 && g <= 1e9 ? nil : "gradient-norm clip = \(g) must be in (0, 1e9] (or off)"
        },
        PPO.criticLearningRateField,
        .bool("filter_groups", make: "FILTER_GROUPS", .unlessDefault,
              "Drop groups whose rollouts are all correct or all wrong before weighting (1: on).", \.filterGroups) { c in
            !c.filterGroups || c.group >= 2 ? nil : "group filtering needs group >= 2 (a group of one is always uniform), got \(c.group)"
        },
        RolloutMode.field,
    ]

    static let executionFields: [ConfigField] = [
        .int("steps", make: "STEPS", 60, .never, "Training steps.", \.steps) { c in
            c.steps >= 0 && c.steps <= 1_000_000 ? nil : "steps = \(c.steps) must be in 0...1000000"
        },
        .int("shards", make: "SHARDS", 1, .never, "Shards per step.", \.shards) { c in
            c.shards >= 1 && c.shards <= c.batch ? nil : "shards = \(c.shards) must be in 1...\(c.batch) (the batch size)"
        },
    ]

    @Sendable static func promptCounts(_ c: RunConfig) -> String? {
        guard let task = try? AddTask(digits: c.digits) else { return nil }
        let pairs = task.operandCount * task.operandCount
        return c.trainPrompts >= 1 && c.testPrompts >= 1 && c.trainPrompts + c.testPrompts <= pairs ? nil
            : "train (\(c.trainPrompts)) and test (\(c.testPrompts)) prompts must be >= 1 and together at most \(pairs) for digits = \(c.digits)"
    }
}

/// Declaration helpers: a field stored in a RunConfig property, by key path.
extension ConfigField {
    public typealias Path<T> = WritableKeyPath<RunConfig, T> & Sendable

    public static func int(_ key: String, flag: String? = nil, make: String, _ value: Int, _ identity: Identity, _ help: String,
                           _ path: Path<Int>, check: @escaping @Sendable (RunConfig) -> String? = { _ in nil }) -> ConfigField {
        ConfigField(key, flag: flag, make: make, .int, default: .int(value), identity: identity, help: help,
                    get: { .int($0[keyPath: path]) }, set: { c, v in c[keyPath: path] = v.intValue ?? value }, check: check)
    }

    public static func double(_ key: String, flag: String? = nil, make: String, _ value: Double, _ identity: Identity, _ help: String,
                              _ path: Path<Double>, derived: ConfigField.Derived? = nil,
                              check: @escaping @Sendable (RunConfig) -> String? = { _ in nil }) -> ConfigField {
        ConfigField(key, flag: flag, make: make, .double, default: .double(value), derived: derived, identity: identity, help: help,
                    get: { .double($0[keyPath: path]) }, set: { c, v in c[keyPath: path] = v.doubleValue ?? value }, check: check)
    }

    public static func optionalDouble(_ key: String, flag: String? = nil, make: String, _ identity: Identity, _ help: String,
                                      _ path: Path<Double?>, check: @escaping @Sendable (RunConfig) -> String? = { _ in nil }) -> ConfigField {
        ConfigField(key, flag: flag, make: make, .double, optional: true, default: .null, identity: identity, help: help,
                    get: { $0[keyPath: path].map { .double($0) } ?? .null }, set: { c, v in c[keyPath: path] = v.doubleValue },
                    check: check)
    }

    public static func bool(_ key: String, flag: String? = nil, make: String, _ identity: Identity, _ help: String,
                            _ path: Path<Bool>, check: @escaping @Sendable (RunConfig) -> String? = { _ in nil }) -> ConfigField {
        ConfigField(key, flag: flag, make: make, .bool, default: .bool(false), identity: identity, help: help,
                    get: { .bool($0[keyPath: path]) }, set: { c, v in c[keyPath: path] = v.boolValue ?? false }, check: check)
    }

    /// A field owned by an objective or loss rule, stored in ``RunConfig/parameters``; part of the
    /// identity only when set.
    public static func parameter(_ key: String, flag: String? = nil, make: String, _ kind: Kind, optional: Bool = false,
                                 on: Double? = nil, default value: JSONValue, _ help: String,
                                 check: @escaping @Sendable (RunConfig) -> String? = { _ in nil }) -> ConfigField {
        var f = ConfigField(key, flag: flag, make: make, kind, optional: optional, on: on, default: value, identity: .unlessDefault,
                            help: help, get: { $0.parameters[key] ?? value },
                            set: { c, v in if v == value { c.parameters[key] = nil } else { c.parameters[key] = v } },
                            check: check)
        f.recordedAtDefault = false
        return f
    }
}
