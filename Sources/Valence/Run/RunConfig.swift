/// Everything that defines a run, written once by `valence-init` to `RUN/config.json`.
///
/// Defaults are docs/model.md's. Two digests derive from it: the task id (what fixes the prompt sets) and
/// the run id (what fixes every number the run produces). The run id leaves out `steps` and
/// `shards`, so a run can be extended or re-sharded without changing a single record.
public struct RunConfig: Sendable, Equatable {
    public var seed: UInt64 = 1
    // Task (docs/model.md 2)
    public var digits = 3
    public var trainPrompts = 2000
    public var testPrompts = 1000
    // Contexts (docs/model.md 3)
    public var window = 0
    // Base policy (docs/model.md 4)
    public var alpha = 0.5
    public var corpus = 20_000
    public var forget = 0.5
    public var noise = 0.1
    public var baseTemperature = 1.0
    // Training (docs/model.md 5)
    public var objective = Objective.wReinforce
    public var lambda = 0.1
    public var batch = 64
    public var group = 8
    public var optimizer = OptimizerKind.adam
    public var learningRate = 0.03
    public var steps = 60
    // Update switches (docs/model.md 5.7); the defaults reproduce the plain step. See docs/objectives.md.
    /// M, optimizer steps per training step, each on one of M equal minibatches (seeded shuffle).
    public var minibatches = 1
    /// PPO clip epsilon; nil is off.
    public var clip: Double? = nil
    /// Coefficient of the mean visited-row entropy added to J.
    public var entropyCoef = 0.0
    /// Coefficient of the mean visited-row KL(pi || pi_base) subtracted from J.
    public var klCoef = 0.0
    /// Decoupled weight decay of adamw (0 for sgd and adam).
    public var weightDecay = 0.0
    /// Largest Frobenius norm of a gradient before the optimizer sees it; nil is off.
    public var gradClip: Double? = nil
    /// The ppo critic's learning rate.
    public var criticLearningRate = 0.5
    /// Drop groups whose G rollouts are all correct or all wrong before weighting.
    public var filterGroups = false
    /// sampled (SPEC 5) or expected (SPEC 8: each prompt's G rollouts replaced by their expectation).
    public var rollouts = RolloutMode.sampled
    // Evaluation (docs/model.md 6)
    public var evalTemperature = 1.0
    public var evalTrain = false
    // Execution: not part of the run's identity.
    public var shards = 1

    public init() {}

    /// Checks every value against its documented range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw ValenceError.config(detail: message()) }
        }
        let task = try AddTask(digits: digits)
        _ = try ContextSpace(task: task, window: window)
        let pairs = task.operandCount * task.operandCount
        try check(trainPrompts >= 1 && testPrompts >= 1 && trainPrompts + testPrompts <= pairs,
                  "train (\(trainPrompts)) and test (\(testPrompts)) prompts must be >= 1 and together at most \(pairs) for digits = \(digits)")
        try check(alpha >= 1e-6 && alpha <= 1e6, "alpha = \(alpha) must be in [0.000001, 1000000]")
        try check(corpus >= 1 && corpus <= 100_000_000, "corpus = \(corpus) must be in 1...100000000")
        try check((0...1).contains(forget), "forget = \(forget) must be in [0, 1]")
        try check((0...1).contains(noise), "noise = \(noise) must be in [0, 1]")
        // Temperatures and the scale of advantages are bounded so that every logit, probability and
        // statistic a run writes stays a finite number (JSON has no NaN or infinity).
        try check(baseTemperature >= 1e-3 && baseTemperature <= 1e3, "base temperature = \(baseTemperature) must be in [0.001, 1000]")
        try check(lambda >= 0 && lambda <= 1e3, "lambda = \(lambda) must be in [0, 1000]")
        try check(batch >= 1 && batch <= trainPrompts, "batch = \(batch) must be in 1...\(trainPrompts) (the train prompts)")
        try check(group >= 1 && group <= 1_000_000, "group = \(group) must be in 1...1000000")
        if objective.readsGroups {
            try check(group >= 2, "\(objective.rawValue) needs group >= 2 (it compares samples within a group), got \(group)")
        }
        try check(learningRate > 0 && learningRate <= 1e3, "lr = \(learningRate) must be in (0, 1000]")
        try check(minibatches >= 1 && minibatches <= batch * group,
                  "minibatches = \(minibatches) must be in 1...\(batch * group) (the rollouts per step)")
        if let clip { try check(clip > 0 && clip < 1, "clip = \(clip) must be in (0, 1) (or off)") }
        try check(entropyCoef >= 0 && entropyCoef <= 1e3, "entropy coefficient = \(entropyCoef) must be in [0, 1000]")
        try check(klCoef >= 0 && klCoef <= 1e3, "KL coefficient = \(klCoef) must be in [0, 1000]")
        try check(weightDecay >= 0 && weightDecay < 1 / learningRate,
                  "weight decay = \(weightDecay) must be in [0, 1/lr)")
        try check(weightDecay == 0 || optimizer == .adamw,
                  "weight decay = \(weightDecay) needs the adamw optimizer (the run uses \(optimizer.rawValue))")
        if let gradClip { try check(gradClip > 0 && gradClip <= 1e9, "gradient-norm clip = \(gradClip) must be in (0, 1e9] (or off)") }
        try check(criticLearningRate > 0 && criticLearningRate <= 1, "critic lr = \(criticLearningRate) must be in (0, 1]")
        if filterGroups {
            try check(group >= 2, "group filtering needs group >= 2 (a group of one is always uniform), got \(group)")
        }
        try check(steps >= 0 && steps <= 1_000_000, "steps = \(steps) must be in 0...1000000")
        try check(evalTemperature >= 1e-3 && evalTemperature <= 1e3, "eval temperature = \(evalTemperature) must be in [0.001, 1000]")
        try validateRolloutMode()
        try check(shards >= 1 && shards <= batch, "shards = \(shards) must be in 1...\(batch) (the batch size)")
    }

    public var task: AddTask {
        get throws { try AddTask(digits: digits) }
    }

    public var space: ContextSpace {
        get throws { try ContextSpace(task: try AddTask(digits: digits), window: window) }
    }

    // MARK: Identity

    public var taskID: Identifier {
        var d = Digest()
        d.update("add")
        d.update(String(seed))
        d.update(digits)
        d.update(trainPrompts)
        d.update(testPrompts)
        return Identifier(d.value)
    }

    public var runID: Identifier {
        var d = Digest()
        d.update(identityJSON.compactBytes)
        return Identifier(d.value)
    }

    // MARK: JSON

    var identityJSON: JSONValue {
        let fields: [(String, JSONValue)] = [
            ("schema", .string(Schema.config.rawValue)),
            ("seed", .int(Int(bitPattern: UInt(seed)))),
            ("task", .string("add")),
            ("digits", .int(digits)),
            ("train_prompts", .int(trainPrompts)),
            ("test_prompts", .int(testPrompts)),
            ("window", .int(window)),
            ("alpha", .double(alpha)),
            ("corpus", .int(corpus)),
            ("forget", .double(forget)),
            ("noise", .double(noise)),
            ("base_temperature", .double(baseTemperature)),
            ("objective", .string(objective.rawValue)),
            ("lambda", .double(lambda)),
            ("batch", .int(batch)),
            ("group", .int(group)),
            ("optimizer", .string(optimizer.rawValue)),
            ("lr", .double(learningRate)),
            ("eval_temperature", .double(evalTemperature)),
            ("eval_train", .bool(evalTrain)),
        ]
        return .object(fields + switchFields.filter { !$0.isDefault }.map { ($0.key, $0.value) })
    }

    /// The update switches as config fields. A switch at its default is left out of the identity,
    /// so runs made before the switches existed keep their run id; config.json records them all.
    var switchFields: [(key: String, value: JSONValue, isDefault: Bool)] {
        [
            ("minibatches", .int(minibatches), minibatches == 1),
            ("clip", clip.map { .double($0) } ?? .null, clip == nil),
            ("entropy_coef", .double(entropyCoef), entropyCoef == 0),
            ("kl_coef", .double(klCoef), klCoef == 0),
            ("weight_decay", .double(weightDecay), weightDecay == 0),
            ("grad_clip", gradClip.map { .double($0) } ?? .null, gradClip == nil),
            ("critic_lr", .double(criticLearningRate), criticLearningRate == 0.5),
            ("filter_groups", .bool(filterGroups), !filterGroups),
            ("rollouts", .string(rollouts.rawValue), rollouts == .sampled),
        ]
    }

    /// The switches in words, for reports: "M = 4, clip 0.2, adamw wd 0.01, ...".
    public var switchSummary: String {
        var parts = ["M = \(minibatches)", clip.map { "clip \(formatNumber($0, decimals: 3))" } ?? "no clip"]
        if entropyCoef != 0 { parts.append("entropy \(formatNumber(entropyCoef, decimals: 4))") }
        if klCoef != 0 { parts.append("KL \(formatNumber(klCoef, decimals: 4))") }
        if optimizer == .adamw { parts.append("weight decay \(formatNumber(weightDecay, decimals: 4))") }
        if let gradClip { parts.append("grad-norm clip \(formatNumber(gradClip, decimals: 4))") }
        if objective == .ppo { parts.append("critic lr \(formatNumber(criticLearningRate, decimals: 4))") }
        if filterGroups { parts.append("uniform groups dropped") }
        if rollouts == .expected { parts.append("expected gradient") }
        return parts.joined(separator: ", ")
    }

    /// The full config as written to `config.json` (identity fields, every switch, steps and shards).
    public var json: JSONValue {
        guard case .object(var fields) = identityJSON else { return identityJSON }
        fields += switchFields.filter(\.isDefault).map { ($0.key, $0.value) }
        fields.append(("steps", .int(steps)))
        fields.append(("shards", .int(shards)))
        fields.append(("run", .string(runID.description)))
        fields.append(("task_id", .string(taskID.description)))
        return .object(fields)
    }

    public init(json: JSONFields) throws {
        let schema = try json.string("schema")
        guard schema == Schema.config.rawValue else {
            throw ValenceError.badData(path: json.path, line: nil, detail: "schema is \"\(schema)\", expected \"\(Schema.config.rawValue)\"")
        }
        let seedValue = try json.int("seed")
        seed = UInt64(bitPattern: Int64(seedValue))
        let taskName = try json.string("task")
        guard taskName == "add" else {
            throw ValenceError.config(detail: "\(json.path): " + "unknown task \"\(taskName)\" (Valence knows \"add\")")
        }
        digits = try json.int("digits")
        trainPrompts = try json.int("train_prompts")
        testPrompts = try json.int("test_prompts")
        window = try json.int("window")
        alpha = try json.double("alpha")
        corpus = try json.int("corpus")
        forget = try json.double("forget")
        noise = try json.double("noise")
        baseTemperature = try json.double("base_temperature")
        let objectiveName = try json.string("objective")
        guard let o = Objective(rawValue: objectiveName) else {
            throw ValenceError.config(detail: "\(json.path): " + "unknown objective \"\(objectiveName)\"")
        }
        objective = o
        lambda = try json.double("lambda")
        batch = try json.int("batch")
        group = try json.int("group")
        let optimizerName = try json.string("optimizer")
        guard let k = OptimizerKind(rawValue: optimizerName) else {
            throw ValenceError.config(detail: "\(json.path): " + "unknown optimizer \"\(optimizerName)\"")
        }
        optimizer = k
        learningRate = try json.double("lr")
        evalTemperature = try json.double("eval_temperature")
        evalTrain = try json.bool("eval_train")
        // Switches: absent in configs written before they existed, which means their defaults.
        func optionalDouble(_ key: String) throws -> Double? {
            if !json.has(key) || json.value[key] == .null { return nil }
            return try json.double(key)
        }
        if json.has("minibatches") { minibatches = try json.int("minibatches") }
        clip = try optionalDouble("clip")
        if json.has("entropy_coef") { entropyCoef = try json.double("entropy_coef") }
        if json.has("kl_coef") { klCoef = try json.double("kl_coef") }
        if json.has("weight_decay") { weightDecay = try json.double("weight_decay") }
        gradClip = try optionalDouble("grad_clip")
        if json.has("critic_lr") { criticLearningRate = try json.double("critic_lr") }
        if json.has("filter_groups") { filterGroups = try json.bool("filter_groups") }
        if json.has("rollouts") {
            let name = try json.string("rollouts")
            guard let mode = RolloutMode(rawValue: name) else {
                throw ValenceError.config(detail: "\(json.path): unknown rollouts \"\(name)\" (sampled or expected)")
            }
            rollouts = mode
        }
        steps = try json.int("steps")
        shards = try json.int("shards")
        // A value out of range is a misconfiguration (exit 78), named with the file it is in; a
        // file that is not a config at all (syntax, schema, missing or mistyped fields) is bad data (65).
        do {
            try validate()
        } catch let ValenceError.config(detail) {
            throw ValenceError.config(detail: "\(json.path): \(detail)")
        }
    }

    public static func load(_ path: String) throws -> RunConfig {
        try RunConfig(json: try JSONFields.load(path))
    }
}
