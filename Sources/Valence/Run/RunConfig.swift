/// Everything that defines a run, written once by `valence-init` to `RUN/config.json`.
///
/// Defaults are docs/model.md's. Every field is declared once in ``fields`` (RunConfig+Fields.swift, and the
/// objective and loss rules for the fields they own): config.json, the run id, the `valence-init`
/// options and the Makefile variables all follow from those declarations. Two digests derive from
/// it: the task id (what fixes the prompt sets) and the run id (what fixes every number the run
/// produces). The run id leaves out `steps` and `shards`, so a run can be extended or re-sharded
/// without changing a single record.
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
    /// PPO clip epsilon (both sides); nil is off.
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
    /// sampled (docs/model.md 5) or expected (docs/model.md 8: each prompt's G rollouts replaced by their
    /// expectation; docs/mechanism.md).
    public var rollouts = RolloutMode.sampled
    /// The fields owned by objective and loss rules (passk's k, clip-higher, KL-Cov, Clip-Cov), by
    /// config.json key; a field at its default is not stored, so equal configs compare equal.
    public var parameters: [String: JSONValue] = [:]
    // Evaluation (docs/model.md 6)
    public var evalTemperature = 1.0
    public var evalTrain = false
    // Execution: not part of the run's identity.
    public var shards = 1

    public init() {}

    /// The value of a rule-owned field (its default when not set).
    public func parameter(_ field: ConfigField) -> JSONValue {
        parameters[field.key] ?? field.defaultValue
    }

    /// Sets a rule-owned field; its default is stored as absence.
    public mutating func setParameter(_ field: ConfigField, _ value: JSONValue) {
        if value == field.defaultValue { parameters[field.key] = nil } else { parameters[field.key] = value }
    }

    /// Checks every value against its declared bounds, then the combination of objective and loss
    /// options (docs/model.md 5.7 defines only some of them).
    public func validate() throws {
        let task = try AddTask(digits: digits)
        _ = try ContextSpace(task: task, window: window)
        for field in Self.fields {
            if let problem = field.check(self) { throw ValenceError.config(detail: problem) }
        }
        try objective.validate(self)
        try UpdateOptions.validate(self)
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

    /// The identity: the schema, every `always` field, then every `unlessDefault` field that is not
    /// at its default, in declaration order.
    var identityJSON: JSONValue {
        var out: [(String, JSONValue)] = [("schema", .string(Schema.config.rawValue))]
        for f in Self.fields where f.identity == .always { out.append((f.key, f.get(self))) }
        for f in Self.fields where f.identity == .unlessDefault {
            let v = f.get(self)
            if v != f.defaultValue { out.append((f.key, v)) }
        }
        return .object(out)
    }

    /// The switches in words, for reports: "M = 4, clip 0.2, adamw wd 0.01, ...".
    public var switchSummary: String {
        let options = UpdateOptions(config: self)
        var parts = ["M = \(minibatches)"]
        if let low = options.clipLow, let high = options.clipHigh, low == high {
            parts.append("clip \(formatNumber(low, decimals: 3))")
        } else if options.clipLow != nil || options.clipHigh != nil {
            parts.append("clip [\(options.clipLow.map { formatNumber($0, decimals: 3) } ?? "-"), \(options.clipHigh.map { formatNumber($0, decimals: 3) } ?? "-")]")
        } else {
            parts.append("no clip")
        }
        if entropyCoef != 0 { parts.append("entropy \(formatNumber(entropyCoef, decimals: 4))") }
        if klCoef != 0 { parts.append("KL \(formatNumber(klCoef, decimals: 4))") }
        if optimizer == .adamw { parts.append("weight decay \(formatNumber(weightDecay, decimals: 4))") }
        if let gradClip { parts.append("grad-norm clip \(formatNumber(gradClip, decimals: 4))") }
        if objective.usesCritic { parts.append("critic lr \(formatNumber(criticLearningRate, decimals: 4))") }
        if filterGroups { parts.append("uniform groups dropped") }
        parts += options.summaryParts
        parts += objective.summaryParts(self)
        return parts.joined(separator: ", ")
    }

    /// The full config as written to `config.json` (identity fields, every update switch at its
    /// default, steps and shards, then the two ids; rule-owned fields only when set).
    public var json: JSONValue {
        guard case .object(var fields) = identityJSON else { return identityJSON }
        for f in Self.fields where f.identity == .unlessDefault && f.recordedAtDefault {
            let v = f.get(self)
            if v == f.defaultValue { fields.append((f.key, v)) }
        }
        for f in Self.fields where f.identity == .never { fields.append((f.key, f.get(self))) }
        fields.append(("run", .string(runID.description)))
        fields.append(("task_id", .string(taskID.description)))
        return .object(fields)
    }

    public init(json: JSONFields) throws {
        let schema = try json.string("schema")
        guard schema == Schema.config.rawValue else {
            throw ValenceError.badData(path: json.path, line: nil, detail: "schema is \"\(schema)\", expected \"\(Schema.config.rawValue)\"")
        }
        for field in Self.fields {
            // Fields that are part of the identity only when set may be absent (configs written
            // before they existed), which means their defaults.
            if field.identity == .unlessDefault && !json.has(field.key) { continue }
            let value = try field.decode(json)
            do {
                try field.set(&self, value)
            } catch let ValenceError.config(detail) {
                throw ValenceError.config(detail: "\(json.path): \(detail)")
            }
        }
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
