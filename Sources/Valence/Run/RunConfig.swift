/// Everything that defines a run, written once by `valence-init` to `RUN/config.json`.
///
/// Defaults are SPEC's. Two digests derive from it: the task id (what fixes the prompt sets) and
/// the run id (what fixes every number the run produces). The run id leaves out `steps` and
/// `shards`, so a run can be extended or re-sharded without changing a single record.
public struct RunConfig: Sendable, Equatable {
    public var seed: UInt64 = 1
    // Task (SPEC 2)
    public var digits = 3
    public var trainPrompts = 2000
    public var testPrompts = 1000
    // Contexts (SPEC 3)
    public var window = 0
    // Base policy (SPEC 4)
    public var alpha = 0.5
    public var corpus = 20_000
    public var forget = 0.5
    public var noise = 0.1
    public var baseTemperature = 1.0
    // Training (SPEC 5)
    public var objective = Objective.wReinforce
    public var lambda = 0.1
    public var batch = 64
    public var group = 8
    public var optimizer = OptimizerKind.adam
    public var learningRate = 0.03
    public var steps = 60
    // Evaluation (SPEC 6)
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
        try check(steps >= 0 && steps <= 1_000_000, "steps = \(steps) must be in 0...1000000")
        try check(evalTemperature >= 1e-3 && evalTemperature <= 1e3, "eval temperature = \(evalTemperature) must be in [0.001, 1000]")
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
        .object([
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
        ])
    }

    /// The full config as written to `config.json` (identity fields plus steps and shards).
    public var json: JSONValue {
        guard case .object(var fields) = identityJSON else { return identityJSON }
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
            throw ValenceError.badData(path: json.path, line: nil, detail: "unknown task \"\(taskName)\" (Valence knows \"add\")")
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
            throw ValenceError.badData(path: json.path, line: nil, detail: "unknown objective \"\(objectiveName)\"")
        }
        objective = o
        lambda = try json.double("lambda")
        batch = try json.int("batch")
        group = try json.int("group")
        let optimizerName = try json.string("optimizer")
        guard let k = OptimizerKind(rawValue: optimizerName) else {
            throw ValenceError.badData(path: json.path, line: nil, detail: "unknown optimizer \"\(optimizerName)\"")
        }
        optimizer = k
        learningRate = try json.double("lr")
        evalTemperature = try json.double("eval_temperature")
        evalTrain = try json.bool("eval_train")
        steps = try json.int("steps")
        shards = try json.int("shards")
        do {
            try validate()
        } catch let error as ValenceError {
            throw ValenceError.badData(path: json.path, line: nil, detail: error.description)
        }
    }

    public static func load(_ path: String) throws -> RunConfig {
        try RunConfig(json: try JSONFields.load(path))
    }
}
