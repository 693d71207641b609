#if canImport(Glibc)
import Glibc
#endif
import CZstd
// In the test target it reaches the library's internals by a testable import; `make fuzz` compiles it
// into one module with the library's sources (Tests/fuzz/fuzz.sh defines VALENCE_FUZZ_MODULE).
#if !VALENCE_FUZZ_MODULE
@testable import Valence
#endif

/// Feeds arbitrary bytes to everything that reads files a person may have edited: the JSONL record
/// decoders, the zstd shard reader, the policy reader, manifests, configs, and the verifier.
///
/// Shared by the libFuzzer target (`Tests/fuzz`, `make fuzz`) and the seeded mutation test that
/// runs inside `make test`; test code, not part of the shipped library. An input passes when every
/// reader either accepts it or throws one of the typed errors the stages turn into a one-line
/// message (no trap, no other error type, no hang), and when what it accepts also satisfies the
/// invariants checked here: a decoded record re-encodes to bytes that decode to the same record, an
/// accepted policy yields finite metrics, and the verifier agrees with a direct reading of
/// docs/model.md 2.
public enum DecoderFuzzing {
    /// What an input exercises; selected by its first byte (modulo the case count).
    public enum Target: UInt8, CaseIterable, Sendable {
        /// One JSONL line through every record decoder and the JSON tree parser.
        case line
        /// The bytes as a shard file: zstd framing, then each line as a weighted rollout.
        case rawShard
        /// The bytes compressed into a valid frame: line splitting and decoding of the content.
        case compressedShard
        /// The bytes as one row replacing a row of a valid policy file.
        case policyRow
        /// The bytes as a manifest file and as a config file.
        case document
        /// Digits and a response for the verifier, checked against a reference implementation.
        case verifier
    }

    /// An input that broke an invariant; the fuzzer reports it as a crash.
    public struct Violation: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Runs one input. `scratch` is a file path the harness may overwrite (one per process).
    public static func run(_ input: UnsafeBufferPointer<UInt8>, scratch: String) throws(Violation) {
        guard let first = input.first else { return }
        let target = Target.allCases[Int(first) % Target.allCases.count]
        let payload = UnsafeBufferPointer(rebasing: input[1...])
        switch target {
        case .line: try line(payload)
        case .rawShard: try shard(Array(payload), compress: false, scratch: scratch)
        case .compressedShard: try shard(Array(payload), compress: true, scratch: scratch)
        case .policyRow: try policyRow(payload, scratch: scratch)
        case .document: try document(Array(payload), scratch: scratch)
        case .verifier: try verifier(payload)
        }
    }

    // MARK: Targets

    /// Shared by all inputs of a process so that number-cache hits are exercised too.
    nonisolated(unsafe) static let numbers = NumberTextCache()

    static func line(_ payload: UnsafeBufferPointer<UInt8>) throws(Violation) {
        for schema in [Schema.rollout, .verified, .weighted] {
            try canonical(payload, as: schema)
            var r = Rollout()
            guard (try? r.decode(payload, as: schema)) != nil else { continue }
            var w = JSONWriter()
            r.encode(into: &w, as: schema)
            var again = Rollout()
            let ok = w.bytes.withUnsafeBufferPointer { (try? again.decode($0, as: schema)) != nil }
            guard ok, again == r else { throw Violation(description: "\(schema.rawValue) record does not survive re-encoding: \(String(decoding: w.bytes, as: UTF8.self))") }
        }
        var g = GroupRecord()
        if (try? g.decode(payload)) != nil {
            var w = JSONWriter()
            g.encode(into: &w)
            var again = GroupRecord()
            let ok = w.bytes.withUnsafeBufferPointer { (try? again.decode($0)) != nil }
            guard ok, again == g else { throw Violation(description: "group record does not survive re-encoding") }
        }
        if let p = try? PromptRecord.decode(payload) {
            var w = JSONWriter()
            p.encode(into: &w)
            let again = w.bytes.withUnsafeBufferPointer { try? PromptRecord.decode($0) }
            guard again == p else { throw Violation(description: "prompt record does not survive re-encoding") }
        }
        if let v = try? JSONValue.parse(Array(payload)) {
            guard (try? JSONValue.parse(v.compactBytes)) == v else {
                throw Violation(description: "JSON value does not survive re-encoding: \(String(decoding: v.compactBytes, as: UTF8.self))")
            }
        }
    }

    /// What the canonical fast path accepts, the general decoder accepts as the same record, and
    /// the line is exactly what the encoder writes for it (with and without copying the core).
    static func canonical(_ payload: UnsafeBufferPointer<UInt8>, as schema: Schema) throws(Violation) {
        var fast = Rollout()
        guard let core = fast.decodeCanonical(payload, as: schema, numbers: numbers) else { return }
        var general = Rollout()
        guard (try? general.decode(payload, as: schema)) != nil else {
            throw Violation(description: "the canonical decoder accepts a \(schema.rawValue) line the general decoder rejects")
        }
        guard fast == general else {
            throw Violation(description: "the canonical and general decoders disagree on a \(schema.rawValue) line")
        }
        var plain = JSONWriter(), copied = JSONWriter()
        general.encode(into: &plain, as: schema)
        fast.encode(into: &copied, as: schema, core: core)
        guard plain.bytes.elementsEqual(payload), copied.bytes.elementsEqual(payload) else {
            throw Violation(description: "a line the canonical decoder accepts does not re-encode to itself")
        }
    }

    static func shard(_ payload: [UInt8], compress: Bool, scratch: String) throws(Violation) {
        let bytes = compress ? zstdFrame(payload) : payload
        try writeScratch(scratch, bytes)
        var r = Rollout()
        try expectTypedErrors("shard reader") {
            try ShardReader.forEachLine(scratch) { line, _ in try r.decode(line, as: .weighted) }
        }
    }

    static func policyRow(_ payload: UnsafeBufferPointer<UInt8>, scratch: String) throws(Violation) {
        guard let space = try? ContextSpace(task: AddTask(digits: 1), window: 0) else { return }
        // A valid policy whose row `replaced` is the payload (a newline in it adds rows).
        let replaced = payload.isEmpty ? 0 : Int(payload[0]) % space.rowCount
        var text: [UInt8] = []
        text.reserveCapacity(policyRows.reduce(payload.count) { $0 + $1.count })
        for row in 0..<space.rowCount {
            if row == replaced { text.append(contentsOf: payload) } else { text.append(contentsOf: policyRows[row]) }
            text.append(0x0A)
        }
        try writeScratch(scratch, zstdFrame(text))
        var accepted: TabularPolicy?
        try expectTypedErrors("policy reader") {
            accepted = try TabularPolicy.read(from: scratch, space: space).policy
        }
        guard let policy = accepted else { return }
        // Whatever a reader accepts must stay finite through evaluation and generation, at the
        // extreme temperatures a config allows: the writers refuse NaN with a trap.
        let prompts = [(a: 0, b: 0), (a: 9, b: 9), (a: 4, b: 5)]
        for t in [1e-3, 1.0, 1e3] {
            let e = Evaluation.evaluate(policy: policy, prompts: prompts, temperature: t)
            guard (e.passAtK + [e.entropy, e.greedy]).allSatisfy(\.isFinite) else {
                throw Violation(description: "accepted policy gives non-finite metrics at T = \(t)")
            }
        }
        guard policy.logProbabilities().allSatisfy(\.isFinite) else {
            throw Violation(description: "accepted policy gives a non-finite log-probability")
        }
    }

    /// The rows of a valid nd = 1, w = 0 policy, encoded once.
    static let policyRows: [[UInt8]] = {
        guard let space = try? ContextSpace(task: AddTask(digits: 1), window: 0) else { return [] }
        return (0..<space.rowCount).map { row in
            var w = JSONWriter()
            w.beginObject()
            w.key("schema"); w.string(Schema.policy.rawValue)
            w.key("row"); w.int(row)
            w.key("ctx"); w.string(space.label(row: row))
            w.key("logits"); w.doubleArray((0..<10).map { Double(($0 * 7 + row) % 10) / 4 - 1 })
            w.endObject()
            return w.bytes
        }
    }()

    static func document(_ payload: [UInt8], scratch: String) throws(Violation) {
        try writeScratch(scratch, payload)
        try expectTypedErrors("manifest reader") {
            let m = try Manifest.read(scratch)
            _ = m.json.prettyText()
        }
        try expectTypedErrors("config reader") {
            let c = try RunConfig.load(scratch)
            _ = c.json.prettyText()
            _ = try c.space
        }
    }

    static func verifier(_ payload: UnsafeBufferPointer<UInt8>) throws(Violation) {
        guard payload.count >= 2 else { return }
        let digits = Int(payload[0]) % AddTask.maxDigits + 1
        guard let task = try? AddTask(digits: digits) else { return }
        let answer = Int(payload[1]) * 7919 % (2 * task.operandCount - 1)
        let response = Array(payload[2...])
        let got = Verifier(task: task).verdict(response: response, answer: answer)
        // docs/model.md 2, read directly: exactly L ASCII digits, else malformed; correct iff the value is a + b.
        let expected: Verdict
        if response.count != task.length || !response.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            expected = .malformed
        } else {
            expected = Int(String(decoding: response, as: UTF8.self)) == answer ? .correct : .wrong
        }
        guard got == expected else {
            throw Violation(description: "verifier says \(got) for \(response) (answer \(answer), L = \(task.length)), expected \(expected)")
        }
    }

    // MARK: Helpers

    /// Runs `body`; any error other than the typed ones the stages report is a violation.
    static func expectTypedErrors(_ what: String, _ body: () throws -> Void) throws(Violation) {
        do {
            try body()
        } catch is ValenceError {
        } catch {
            throw Violation(description: "\(what) threw an untyped error: \(error)")
        }
    }

    static func writeScratch(_ path: String, _ bytes: [UInt8]) throws(Violation) {
        do {
            let file = try OutputFile(path: path)
            try file.write(bytes)
            try file.close()
        } catch {
            throw Violation(description: "cannot write the scratch file \(path): \(error)")
        }
    }

    /// One compression context for the process: creating one per input would dominate the run.
    /// The harness is single-threaded (libFuzzer and the mutation test call it from one thread).
    nonisolated(unsafe) static var compressor: OpaquePointer? = {
        guard let cctx = ZSTD_createCCtx() else { return nil }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        return cctx
    }()

    /// One zstd frame holding `bytes` (with a checksum, as the shard writer makes them).
    static func zstdFrame(_ bytes: [UInt8]) -> [UInt8] {
        guard let cctx = compressor else { return [] }
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let n = out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count) }
        }
        guard ZSTD_isError(n) == 0 else { return [] }
        return Array(out[0..<n])
    }

    // MARK: Seeds and mutation

    /// Valid examples of every input kind, each prefixed with its target byte: the starting corpus.
    public static func seeds() -> [[UInt8]] {
        var out: [[UInt8]] = []
        func add(_ target: Target, _ bytes: [UInt8]) { out.append([target.rawValue] + bytes) }
        var r = Rollout()
        r.run = Identifier(0x0123_4567_89ab_cdef)
        r.step = 3
        r.prompt = 17
        r.sample = 5
        r.a = 345
        r.b = 789
        r.text = Array("1134".utf8)
        r.tokens = [1, 1, 3, 4]
        r.logp = [-0.5, -1.25, -2.0, -0.125]
        r.verdict = .correct
        r.reward = 1
        r.advantage = 0.1
        var lines: [UInt8] = []
        var w = JSONWriter()
        for schema in [Schema.rollout, .verified, .weighted] {
            w = JSONWriter()
            r.encode(into: &w, as: schema)
            add(.line, w.bytes)
            lines += w.bytes + [0x0A]
        }
        // ppo's layout: token advantages, and numbers in every form the encoder writes.
        var ppo = r
        ppo.logp = [-0.38675839551388336, -0.0, -1e-05, -3.0]
        ppo.advantage = -0.25
        ppo.advantageTokens = [0.5, -2.5e-07, 1e9, -0.0]
        w = JSONWriter()
        ppo.encode(into: &w, as: .weighted)
        add(.line, w.bytes)
        var g = GroupRecord()
        g.run = r.run
        g.step = 3
        g.prompt = 17
        g.samples = 8
        g.correct = 2
        g.wrong = 5
        g.malformed = 1
        w = JSONWriter()
        g.encode(into: &w)
        add(.line, w.bytes)
        w = JSONWriter()
        PromptRecord(task: r.run, split: "train", id: 4, a: 12, b: 30, text: "12+30=", answer: "0042").encode(into: &w)
        add(.line, w.bytes)
        add(.line, Array(#"{"a":[1,2.5,-0.0,1e-7,"x\u00e9\n"],"b":{"c":null,"d":true}}"#.utf8))
        add(.rawShard, zstdFrame(lines))
        add(.compressedShard, lines)
        add(.compressedShard, Array(" \n\r\n".utf8) + lines + Array("{\"schema\": \"valence.weighted/1\" }".utf8))
        add(.policyRow, Array(#"{"schema":"valence.policy/1","row":3,"ctx":"j0 a0 b3","logits":[0.0,1.5,-2.0,3e2,0.25,0.0,0.0,0.0,0.0,-1e6]}"#.utf8))
        let manifest = Manifest(stage: "verify", run: r.run, step: 3, shard: 0, shards: 2, inputs: 42,
                                outputs: [.init(path: "steps/000003/verified/part-00000-of-00002.jsonl.zst", schema: Schema.verified.rawValue, records: 64, bytes: 900, digest: 7)],
                                stats: [("correct", .int(5)), ("wrong", .int(50)), ("malformed", .int(9))])
        add(.document, Array((manifest.json.prettyText() + "\n").utf8))
        add(.document, Array((RunConfig().json.prettyText() + "\n").utf8))
        add(.verifier, [2, 42] + Array("0042".utf8))
        add(.verifier, [2, 42] + Array("١٢".utf8))
        return out
    }

    /// Seeded byte-level mutations (the fallback when libFuzzer is not available, and the short
    /// run inside `make test`): bit flips, byte edits, insertions and deletions of ranges, splices
    /// with other seeds, and tokens that have broken JSON readers before.
    public struct Mutator {
        var rng: CounterRNG
        let corpus: [[UInt8]]

        static let tokens: [[UInt8]] = [
            "1e999", "-1e999", "NaN", "Infinity", "-0", "0.0", "1e-400", "99999999999999999999", "-9223372036854775808",
            "9007199254740993", "1.0e2", "\"", "\\", "\\u", "\\ud800", "\\u0000", "{", "}", "[", "]", ",", ":", "null",
            "true", "\n", " ", "\t", "\r", "\"schema\"", "\"valence.rollout/2\"", "\"run\"", "\"step\"", "\"tokens\"",
            "\"logp\"", "\"adv\"", "\"logits\"", "[[[[[[[[[[[[[[[[", "{\"a\":{\"a\":{\"a\":",
        ].map { Array($0.utf8) }

        public init(seed: UInt64, corpus: [[UInt8]] = DecoderFuzzing.seeds()) {
            rng = CounterRNG(seed: seed, purpose: .evalSample, 0xf022)
            self.corpus = corpus
        }

        mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : rng.below(n) }

        /// The next input: a seed with 1 to 8 mutations (its target byte kept).
        public mutating func next() -> [UInt8] {
            var bytes = corpus[below(corpus.count)]
            let edits = 1 + below(8)
            for _ in 0..<edits {
                let n = bytes.count
                let at = 1 + below(max(n - 1, 1))
                switch below(8) {
                case 0 where n > 1:
                    bytes[min(at, n - 1)] ^= UInt8(1 << below(8))
                case 1 where n > 1:
                    bytes[min(at, n - 1)] = UInt8(truncatingIfNeeded: rng.next())
                case 2:
                    bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: min(at, n))
                case 3 where n > 2:
                    let start = min(at, n - 1)
                    bytes.removeSubrange(start..<min(n, start + 1 + below(16)))
                case 4:
                    bytes.insert(contentsOf: Mutator.tokens[below(Mutator.tokens.count)], at: min(at, n))
                case 5 where n > 2:
                    // Replace a number-like run with a token.
                    let start = min(at, n - 1)
                    let end = min(n, start + 1 + below(6))
                    bytes.replaceSubrange(start..<end, with: Mutator.tokens[below(Mutator.tokens.count)])
                case 6:
                    let other = corpus[below(corpus.count)]
                    if other.count > 1 {
                        let from = 1 + below(other.count - 1)
                        bytes.insert(contentsOf: other[from..<min(other.count, from + below(64))], at: min(at, n))
                    }
                case 7 where n > 2:
                    let start = min(at, n - 1)
                    let end = min(n, start + 1 + below(32))
                    bytes.insert(contentsOf: Array(bytes[start..<end]), at: end)
                default:
                    break
                }
            }
            return bytes
        }
    }
}
