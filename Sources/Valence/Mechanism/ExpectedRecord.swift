/// One prompt's record in expected-gradient mode (`valence.expected/1`), the stand-in for its G
/// rollouts. Each stage adds what it knows, like the rollout records of sampled mode:
///
/// - generate: the prompt and, per position j, the generating policy's distribution over the 10
///   digits at row c_j(x) (`probs`, L x 10): everything sampling would have drawn from.
/// - verify: the reference `answer`, the probability of each of its digits (`p_tokens`) and
///   p = p_x, their product: the chance that one rollout is correct (`probs` is dropped).
/// - split: the expected group counts of c ~ Binomial(G, p): `positives` = G p, `negatives` =
///   G (1 - p), `solved_all` = p^G, `solved_none` = (1 - p)^G.
/// - weight: the expected weight's PSR and NSR parts `w_psr`, `w_nsr` and `w` = their sum (docs/model.md 8).
///
/// B records per step (at most the train set), so they are read through ``JSONValue``.
public struct ExpectedRecord: Sendable, Equatable {
    public var run = Identifier(0)
    public var step = 0
    public var prompt = 0
    public var a = 0
    public var b = 0
    public var probs: [[Double]]?
    public var answer: String?
    public var pTokens: [Double]?
    public var p: Double?
    public var positives: Double?
    public var negatives: Double?
    public var solvedAll: Double?
    public var solvedNone: Double?
    public var wPSR: Double?
    public var wNSR: Double?

    public init() {}

    public func encode(into w: inout JSONWriter) {
        w.beginObject()
        w.key("schema"); w.string(Schema.expected.rawValue)
        w.key("run"); w.string(run.description)
        w.key("step"); w.int(step)
        w.key("prompt"); w.int(prompt)
        w.key("a"); w.int(a)
        w.key("b"); w.int(b)
        if let probs {
            w.key("probs")
            w.beginArray()
            for row in probs { w.doubleArray(row) }
            w.endArray()
        }
        if let answer { w.key("answer"); w.string(answer) }
        if let pTokens { w.key("p_tokens"); w.doubleArray(pTokens) }
        if let p { w.key("p"); w.double(p) }
        if let positives { w.key("positives"); w.double(positives) }
        if let negatives { w.key("negatives"); w.double(negatives) }
        if let solvedAll { w.key("solved_all"); w.double(solvedAll) }
        if let solvedNone { w.key("solved_none"); w.double(solvedNone) }
        if let wPSR, let wNSR {
            w.key("w_psr"); w.double(wPSR)
            w.key("w_nsr"); w.double(wNSR)
            w.key("w"); w.double(wPSR + wNSR)
        }
        w.endObject()
    }

    /// Parses one line. `need` lists the fields the reading stage requires (beyond the identity).
    public static func decode(_ line: UnsafeBufferPointer<UInt8>, need: Set<String>) throws -> ExpectedRecord {
        let value: JSONValue
        do { value = try JSONValue.parse(Array(line)) } catch { throw RecordError("invalid JSON: \(error)") }
        let f = JSONFields(value, path: "")
        do {
            var r = ExpectedRecord()
            try Schema.check(try f.string("schema"), expected: .expected)
            let runText = try f.string("run")
            guard runText.utf8.count == 16, let id = UInt64(runText, radix: 16) else { throw RecordError("run \"\(runText)\" is not 16 hex digits") }
            r.run = Identifier(id)
            r.step = try f.int("step")
            r.prompt = try f.int("prompt")
            r.a = try f.int("a")
            r.b = try f.int("b")
            func finite(_ v: JSONValue) throws -> Double {
                guard let d = v.doubleValue, d.isFinite else { throw RecordError("a number in \(v) is not finite") }
                return d
            }
            if need.contains("probs") {
                r.probs = try f.array("probs").map { row in
                    guard let items = row.arrayValue, items.count == 10 else { throw RecordError("each row of probs needs 10 numbers") }
                    return try items.map(finite)
                }
            }
            if need.contains("p") {
                r.answer = try f.string("answer")
                r.pTokens = try f.array("p_tokens").map(finite)
                r.p = try f.double("p")
                guard let p = r.p, (0...1).contains(p) else { throw RecordError("p = \(r.p ?? .nan) is outside [0, 1]") }
            }
            if need.contains("positives") {
                r.positives = try f.double("positives")
                r.negatives = try f.double("negatives")
                r.solvedAll = try f.double("solved_all")
                r.solvedNone = try f.double("solved_none")
            }
            if need.contains("w") {
                r.wPSR = try f.double("w_psr")
                r.wNSR = try f.double("w_nsr")
                guard abs(r.wPSR ?? 0) <= 1e9, abs(r.wNSR ?? 0) <= 1e9 else { throw RecordError("weights outside [-1e9, 1e9]") }
            }
            return r
        } catch let ValenceError.badData(_, _, detail) {
            throw RecordError(detail)
        }
    }
}

extension StageEnvironment {
    /// Streams an expected-mode shard: this run, this step, strictly increasing prompts, and the
    /// record count its manifest promised.
    func forEachExpected(_ output: Manifest.Output, step: Int, need: Set<String>,
                         _ body: (inout ExpectedRecord) throws -> Void) throws {
        let path = layout.path(output.path)
        let runID = runID
        var last = -1
        let result = try ShardReader.forEachLine(path, digest: false) { line, _ in
            var r = try ExpectedRecord.decode(line, need: need)
            guard r.run == runID else { throw RecordError("record belongs to run \(r.run), this run is \(runID)") }
            guard r.step == step else { throw RecordError("record is from step \(r.step), expected step \(step)") }
            guard r.prompt > last else { throw RecordError("prompt \(r.prompt) after prompt \(last): out of order or duplicate") }
            last = r.prompt
            try body(&r)
        }
        if result.records != output.records {
            throw ValenceError.badData(path: path, line: nil, detail: "holds \(result.records) records but its manifest says \(output.records)")
        }
    }
}
