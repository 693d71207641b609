/// The verifier's judgement of one response (docs/model.md 2).
public enum Verdict: String, Sendable, CaseIterable {
    case correct, wrong, malformed

    /// r = 1 for correct, 0 otherwise.
    public var reward: Int { self == .correct ? 1 : 0 }
}

/// One sampled response and everything later stages add to it.
///
/// The same value flows through the pipeline and gains fields: generate writes a
/// `valence.rollout/1` record, verify adds the verdict and reward (`valence.verified/1`), weight
/// adds the advantage (`valence.weighted/1`). Stages decode into one reused value, so reading a
/// shard allocates nothing per record.
public struct Rollout: Sendable, Equatable {
    public var run = Identifier(0)
    public var step = 0
    public var prompt = 0
    public var sample = 0
    public var a = 0
    public var b = 0
    /// The response text exactly as the verifier sees it (UTF-8 bytes).
    public var text: [UInt8] = []
    public var tokens: [Int] = []
    /// log pi_gen(token) per position, under the policy that generated the response.
    public var logp: [Double] = []
    public var verdict = Verdict.malformed
    public var reward = 0
    /// A_i, the objective's advantage for this response.
    public var advantage = 0.0
    /// Per-position advantages A_ij (`adv_tokens`, optional; ppo writes them). When present they
    /// replace `advantage` in the gradient, and `advantage` holds their mean for summaries.
    public var advantageTokens: [Double] = []

    public init() {}

    /// The largest advantage magnitude a weighted record may hold.
    public static let maxAdvantage = 1e9

    /// The record's position in the canonical order every step shard follows.
    @inline(__always) public var order: (Int, Int) { (prompt, sample) }

    /// Encodes the record as one JSON object in the fixed key order `schema` defines (byte-stable).
    ///
    /// Hot path: the bytes are written in one reserved run through a cursor, keys as constant text.
    /// The output is identical to writing each field with ``JSONWriter``'s per-value methods.
    ///
    /// `core`, the fields `run` through `logp` of the canonical line this record was decoded from
    /// (``decode(_:as:numbers:)``), is copied instead of encoding those fields again: the same bytes,
    /// since a canonical line is what this encoder writes. Debug builds check that.
    ///
    /// Returns where the line's core (its fields `run` through `logp`, see ``RolloutCore``) is in
    /// `w`'s pending bytes.
    @discardableResult
    public func encode(into w: inout JSONWriter, as schema: Schema, core: RolloutCore? = nil) -> Range<Int> {
        assert(core.map { coreMatchesFields($0) } ?? true, "a rollout's fields changed after decoding")
        let bound = 512 + JSONCursor.maxEscapedLength(text.count) + (core?.bytes.count ?? 0)
            + (JSONCursor.maxIntLength + 1) * tokens.count + (JSONCursor.maxDoubleLength + 1) * (logp.count + advantageTokens.count)
        // Offsets from the record's first byte: where its core starts and ends, and its length.
        var (coreStart, coreEnd, length) = (0, 0, 0)
        w.appendRaw(maxCount: bound) { c in
            let first = c.position
            if let core {
                switch schema {
                case .verified: c.raw("{\"schema\":\"valence.verified/1\"")
                case .weighted: c.raw("{\"schema\":\"valence.weighted/1\"")
                default:
                    c.raw("{\"schema\":\"")
                    c.raw(schema.tag)
                    c.byte(UInt8(ascii: "\""))
                }
                coreStart = c.position - first
                c.bytes(core.bytes)
                coreEnd = c.position - first
                encodeSuffix(&c, as: schema)
                length = c.position - first
                return
            }
            switch schema {
            case .verified: c.raw("{\"schema\":\"valence.verified/1\",\"run\":\"")
            case .weighted: c.raw("{\"schema\":\"valence.weighted/1\",\"run\":\"")
            default:
                c.raw("{\"schema\":\"")
                c.raw(schema.tag)
                c.raw("\",\"run\":\"")
            }
            coreStart = c.position - first - 8  // the core starts at `,"run":"`
            c.hex16(run.value)
            c.raw("\",\"step\":")
            c.int(step)
            c.raw(",\"prompt\":")
            c.int(prompt)
            c.raw(",\"sample\":")
            c.int(sample)
            c.raw(",\"a\":")
            c.int(a)
            c.raw(",\"b\":")
            c.int(b)
            c.raw(",\"text\":")
            text.withUnsafeBufferPointer { c.escaped($0) }
            c.raw(",\"tokens\":")
            tokens.withUnsafeBufferPointer { c.intArray($0) }
            c.raw(",\"logp\":")
            logp.withUnsafeBufferPointer { c.doubleArray($0) }
            coreEnd = c.position - first
            encodeSuffix(&c, as: schema)
            length = c.position - first
        }
        let start = w.count - length
        return (start + coreStart)..<(start + coreEnd)
    }

    /// The fields after `logp` and the closing brace.
    @inline(__always) func encodeSuffix(_ c: inout JSONCursor, as schema: Schema) {
        if schema != .rollout {
            switch verdict {
            case .correct: c.raw(",\"verdict\":\"correct\",\"reward\":")
            case .wrong: c.raw(",\"verdict\":\"wrong\",\"reward\":")
            case .malformed: c.raw(",\"verdict\":\"malformed\",\"reward\":")
            }
            c.int(reward)
        }
        if schema == .weighted {
            c.raw(",\"adv\":")
            c.double(advantage)
            if !advantageTokens.isEmpty {
                c.raw(",\"adv_tokens\":")
                advantageTokens.withUnsafeBufferPointer { c.doubleArray($0) }
            }
        }
        c.byte(UInt8(ascii: "}"))
    }

    /// Whether `core` holds exactly the bytes this record's fields `run` through `logp` encode to.
    func coreMatchesFields(_ core: RolloutCore) -> Bool {
        var w = JSONWriter()
        encode(into: &w, as: .rollout)
        let prefix = "{\"schema\":\"valence.rollout/1\"".utf8.count
        return w.withBytes { all in
            all.count == prefix + core.bytes.count + 1 && zip(all[prefix..<(all.count - 1)], core.bytes).allSatisfy { $0 == $1 }
        }
    }

    /// The keys in the order ``encode(into:as:)`` writes them; a rollout record uses the first 10,
    /// verified the first 12, weighted all 14 (`adv_tokens` is optional: ppo writes it).
    static let keys: [StaticString] = [
        "schema", "run", "step", "prompt", "sample", "a", "b", "text", "tokens", "logp", "verdict", "reward", "adv",
        "adv_tokens",
    ]

    @inline(__always) static func keyCount(_ schema: Schema) -> Int {
        schema == .rollout ? 10 : (schema == .verified ? 12 : 14)
    }

    /// Decodes one line in place. `schema` is the kind the caller expects; fields of later stages
    /// that appear in an earlier kind are ignored, fields the kind needs are required.
    ///
    /// Keys in the order this codec writes them are matched as raw bytes; any other order or
    /// spelling (whitespace, escapes) falls back to the general key reader, so every valid JSON text
    /// for the schema is accepted.
    public mutating func decode(_ line: UnsafeBufferPointer<UInt8>, as schema: Schema) throws {
        var s = JSONScanner(line)
        var seen = FieldSet()
        let count = Rollout.keyCount(schema)
        var next = 0
        advantageTokens.removeAll(keepingCapacity: true)
        try s.beginObject()
        while true {
            let field: Int
            if next < count && s.expectKey(Rollout.keys[next]) {
                field = next
            } else {
                guard let key = try s.nextKey() else { break }
                var found = -1
                for i in 0..<count where key == Rollout.keys[i] {
                    found = i
                    break
                }
                if found < 0 {
                    try s.skipValue()
                    continue
                }
                field = found
            }
            next = field + 1
            try seen.insert(1 << UInt32(field))
            switch field {
            case 0: try Schema.check(try s.stringBytes(), expected: schema)
            case 1: run = try Identifier.parse(try s.stringBytes())
            case 2: step = try s.intField("step")
            case 3: prompt = try s.intField("prompt")
            case 4: sample = try s.intField("sample")
            case 5: a = try s.intField("a")
            case 6: b = try s.intField("b")
            case 7:
                let bytes = try s.stringBytes()
                text.removeAll(keepingCapacity: true)
                text.append(contentsOf: bytes.buffer)
            case 8:
                try s.ints(into: &tokens)
                for t in tokens where t < 0 || t > 9 { throw RecordError("token \(t) is outside the vocabulary 0-9") }
            case 9:
                try s.doubles(into: &logp)
                for v in logp where !(v.isFinite && v <= 0) {
                    throw RecordError("log-probability \(v) is not a finite number <= 0")
                }
            case 10:
                let v = try s.stringBytes()
                if v == "correct" { verdict = .correct }
                else if v == "wrong" { verdict = .wrong }
                else if v == "malformed" { verdict = .malformed }
                else { throw RecordError("verdict \"\(v.string)\" is not correct, wrong or malformed") }
            case 11: reward = try s.intField("reward")
            case 12:
                advantage = try s.finiteDouble("adv")
                // Objectives give at most about 1e3 (lambda <= 1e3, grpo's 1/std), 1e6 for a grpo group
                // whose counts contradict its records; far beyond that, a hand-edited value would
                // overflow the gradient norms update reports.
                guard abs(advantage) <= Rollout.maxAdvantage else {
                    throw RecordError("advantage \(advantage) is outside [-1e9, 1e9]")
                }
            default:
                try s.doubles(into: &advantageTokens)
                for v in advantageTokens where !(v.isFinite && abs(v) <= Rollout.maxAdvantage) {
                    throw RecordError("field \"adv_tokens\" holds \(v), outside [-1e9, 1e9]")
                }
            }
        }
        try s.finish()
        if seen.bits & 0x3FF != 0x3FF {
            for i in 0..<10 where seen.bits & (1 << UInt32(i)) == 0 {
                throw RecordError("missing field \"\(Rollout.keys[i])\"")
            }
        }
        if tokens.count != logp.count {
            throw RecordError("\(tokens.count) tokens but \(logp.count) log-probabilities")
        }
        if schema != .rollout {
            try seen.require(1 << 10, "verdict")
            try seen.require(1 << 11, "reward")
            if reward != verdict.reward {
                throw RecordError("reward \(reward) contradicts verdict \"\(verdict.rawValue)\"")
            }
        }
        if schema == .weighted {
            try seen.require(1 << 12, "adv")
            if !advantageTokens.isEmpty && advantageTokens.count != tokens.count {
                throw RecordError("\(advantageTokens.count) token advantages for \(tokens.count) tokens")
            }
        }
    }
}

/// Per-prompt counts of a step's group of G rollouts, written by split so that weight never has to
/// re-join the positive and negative shards.
public struct GroupRecord: Sendable, Equatable {
    public var run = Identifier(0)
    public var step = 0
    public var prompt = 0
    public var samples = 0
    public var correct = 0
    public var wrong = 0
    public var malformed = 0

    public init() {}

    public func encode(into w: inout JSONWriter) {
        w.appendRaw(maxCount: 512) { c in
            c.raw("{\"schema\":\"valence.group/1\",\"run\":\"")
            c.hex16(run.value)
            c.raw("\",\"step\":")
            c.int(step)
            c.raw(",\"prompt\":")
            c.int(prompt)
            c.raw(",\"samples\":")
            c.int(samples)
            c.raw(",\"correct\":")
            c.int(correct)
            c.raw(",\"wrong\":")
            c.int(wrong)
            c.raw(",\"malformed\":")
            c.int(malformed)
            c.byte(UInt8(ascii: "}"))
        }
    }

    public mutating func decode(_ line: UnsafeBufferPointer<UInt8>) throws {
        var s = JSONScanner(line)
        var seen = FieldSet()
        try s.beginObject()
        while let key = try s.nextKey() {
            if key == "schema" { try seen.insert(1); try Schema.check(try s.stringBytes(), expected: .group) }
            else if key == "run" { try seen.insert(2); run = try Identifier.parse(try s.stringBytes()) }
            else if key == "step" { try seen.insert(4); step = try s.intField("step") }
            else if key == "prompt" { try seen.insert(8); prompt = try s.intField("prompt") }
            else if key == "samples" { try seen.insert(16); samples = try s.intField("samples") }
            else if key == "correct" { try seen.insert(32); correct = try s.intField("correct") }
            else if key == "wrong" { try seen.insert(64); wrong = try s.intField("wrong") }
            else if key == "malformed" { try seen.insert(128); malformed = try s.intField("malformed") }
            else { try s.skipValue() }
        }
        try s.finish()
        for (bit, name) in [(UInt32(1), "schema"), (2, "run"), (4, "step"), (8, "prompt"), (16, "samples"),
                            (32, "correct"), (64, "wrong"), (128, "malformed")] where seen.bits & bit == 0 {
            throw RecordError("missing field \"\(name)\"")
        }
        if correct < 0 || wrong < 0 || malformed < 0 || correct + wrong + malformed != samples {
            throw RecordError("group counts \(correct)+\(wrong)+\(malformed) do not add up to \(samples) samples")
        }
    }
}
