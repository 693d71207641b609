/// The verifier's judgement of one response (SPEC 2).
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

    /// The record's position in the canonical order every step shard follows.
    @inline(__always) public var order: (Int, Int) { (prompt, sample) }

    public func encode(into w: inout JSONWriter, as schema: Schema) {
        w.beginObject()
        w.key("schema"); w.string(schema.rawValue)
        w.key("run"); w.string(run.description)
        w.key("step"); w.int(step)
        w.key("prompt"); w.int(prompt)
        w.key("sample"); w.int(sample)
        w.key("a"); w.int(a)
        w.key("b"); w.int(b)
        w.key("text"); w.string(bytes: text)
        w.key("tokens"); w.intArray(tokens)
        w.key("logp"); w.doubleArray(logp)
        if schema != .rollout {
            w.key("verdict"); w.string(verdict.rawValue)
            w.key("reward"); w.int(reward)
        }
        if schema == .weighted {
            w.key("adv"); w.double(advantage)
            if !advantageTokens.isEmpty { w.key("adv_tokens"); w.doubleArray(advantageTokens) }
        }
        w.endObject()
    }

    /// Decodes one line in place. `schema` is the kind the caller expects; fields of later stages
    /// that appear in an earlier kind are ignored, fields the kind needs are required.
    public mutating func decode(_ line: UnsafeBufferPointer<UInt8>, as schema: Schema) throws {
        var s = JSONScanner(line)
        var seen = FieldSet()
        advantageTokens.removeAll(keepingCapacity: true)
        try s.beginObject()
        while let key = try s.nextKey() {
            if key == "schema" { try seen.insert(1); try Schema.check(try s.stringBytes(), expected: schema) }
            else if key == "run" { try seen.insert(2); run = try Identifier.parse(try s.stringBytes()) }
            else if key == "step" { try seen.insert(4); step = try s.intField("step") }
            else if key == "prompt" { try seen.insert(8); prompt = try s.intField("prompt") }
            else if key == "sample" { try seen.insert(16); sample = try s.intField("sample") }
            else if key == "a" { try seen.insert(32); a = try s.intField("a") }
            else if key == "b" { try seen.insert(64); b = try s.intField("b") }
            else if key == "text" {
                try seen.insert(128)
                let bytes = try s.stringBytes()
                text.removeAll(keepingCapacity: true)
                text.append(contentsOf: bytes.buffer)
            }
            else if key == "tokens" {
                try seen.insert(256)
                try s.ints(into: &tokens)
                for t in tokens where t < 0 || t > 9 { throw RecordError("token \(t) is outside the vocabulary 0-9") }
            }
            else if key == "logp" {
                try seen.insert(512)
                try s.doubles(into: &logp)
                for v in logp where !(v.isFinite && v <= 0) {
                    throw RecordError("log-probability \(v) is not a finite number <= 0")
                }
            }
            else if key == "verdict" && schema != .rollout {
                try seen.insert(1024)
                let v = try s.stringBytes()
                if v == "correct" { verdict = .correct }
                else if v == "wrong" { verdict = .wrong }
                else if v == "malformed" { verdict = .malformed }
                else { throw RecordError("verdict \"\(v.string)\" is not correct, wrong or malformed") }
            }
            else if key == "reward" && schema != .rollout {
                try seen.insert(2048)
                reward = try s.intField("reward")
            }
            else if key == "adv" && schema == .weighted {
                try seen.insert(4096)
                advantage = try s.finiteDouble("adv")
            }
            else if key == "adv_tokens" && schema == .weighted {
                try seen.insert(8192)
                try s.doubles(into: &advantageTokens)
                for v in advantageTokens where !v.isFinite { throw RecordError("field \"adv_tokens\" holds a non-finite number") }
            }
            else { try s.skipValue() }
        }
        try s.finish()
        try seen.require(1, "schema")
        try seen.require(2, "run")
        try seen.require(4, "step")
        try seen.require(8, "prompt")
        try seen.require(16, "sample")
        try seen.require(32, "a")
        try seen.require(64, "b")
        try seen.require(128, "text")
        try seen.require(256, "tokens")
        try seen.require(512, "logp")
        if tokens.count != logp.count {
            throw RecordError("\(tokens.count) tokens but \(logp.count) log-probabilities")
        }
        if schema != .rollout {
            try seen.require(1024, "verdict")
            try seen.require(2048, "reward")
            if reward != verdict.reward {
                throw RecordError("reward \(reward) contradicts verdict \"\(verdict.rawValue)\"")
            }
        }
        if schema == .weighted {
            try seen.require(4096, "adv")
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
        w.beginObject()
        w.key("schema"); w.string(Schema.group.rawValue)
        w.key("run"); w.string(run.description)
        w.key("step"); w.int(step)
        w.key("prompt"); w.int(prompt)
        w.key("samples"); w.int(samples)
        w.key("correct"); w.int(correct)
        w.key("wrong"); w.int(wrong)
        w.key("malformed"); w.int(malformed)
        w.endObject()
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
