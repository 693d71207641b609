import Valence

/// Decode-only timing of the rollout codec, for `valence-bench-codec` and `make bench-codec`: the
/// measurement behind docs/performance.md, "Codec choice: simdjson measured".
///
/// It lives beside the tool, outside the shipped library, and calls the decoders across the module
/// boundary: the same ns per record as from inside the library, where it used to live
/// (docs/performance.md, round 9).
/// `bench/simdjson/decode.cpp` times simdjson On-Demand the same way on the same lines and computes
/// the same ``Checksum``, so equal checksums show that both decoded the same values.
public enum CodecBenchmark {
    /// Which of Valence's decoders to time.
    public enum Decoder: String, CaseIterable, Sendable {
        /// `Rollout.decode(_:as:numbers:)`, what the stages call: the canonical-layout fast path,
        /// and the general decoder for lines it declines.
        case canonical
        /// `Rollout.decode(_:as:)` alone: any key order and spelling.
        case general
    }

    /// A shard's lines, decompressed into one buffer once, so that timing covers decoding only.
    public struct Lines: Sendable {
        public let bytes: [UInt8]
        /// Each non-blank line as ``ShardReader`` hands it to a stage (trailing blanks trimmed).
        public let ranges: [Range<Int>]

        /// Reads every line of `path` through ``ShardReader`` (so zstd, line splitting and the line
        /// limit are the stages').
        public init(path: String) throws {
            var bytes: [UInt8] = []
            var ranges: [Range<Int>] = []
            try ShardReader.forEachLine(path, digest: false) { line, _ in
                let start = bytes.count
                bytes.append(contentsOf: line)
                ranges.append(start..<bytes.count)
            }
            self.bytes = bytes
            self.ranges = ranges
        }

        /// The record kind named in the first line (any key order), or nil if none is.
        public var schema: Schema? {
            guard let first = ranges.first else { return nil }
            let line = bytes[first]
            for schema in [Schema.weighted, .verified, .rollout] {
                let tag = Array("\"\(schema.rawValue)\"".utf8)
                if line.count >= tag.count,
                   (0...(line.count - tag.count)).contains(where: { line.dropFirst($0).starts(with: tag) }) {
                    return schema
                }
            }
            return nil
        }
    }

    /// One decoder's best repetition.
    public struct Result: Sendable {
        public var records = 0
        /// Lines the canonical fast path decoded (the rest went to the general decoder).
        public var canonicalLines = 0
        public var bestNanosecondsPerRecord = Double.infinity
        public var checksum: UInt64 = 0
    }

    /// Decodes every line `repetitions` times with `decoder` and keeps the fastest pass. Each pass
    /// starts with a fresh number cache, as each shard a stage reads does.
    /// `progress` (if any) advances by one per pass, outside the timed loop.
    public static func run(_ lines: Lines, as schema: Schema, decoder: Decoder, repetitions: Int,
                           progress: ProgressLine? = nil) throws -> Result {
        var result = Result(records: lines.ranges.count)
        var r = Rollout()
        let clock = ContinuousClock()
        try lines.bytes.withUnsafeBufferPointer { all in
            for _ in 0..<max(1, repetitions) {
                var sum = Checksum()
                var canonical = 0
                let numbers = NumberTextCache()
                let start = clock.now
                for (index, range) in lines.ranges.enumerated() {
                    let line = UnsafeBufferPointer(rebasing: all[range])
                    do {
                        switch decoder {
                        case .canonical: if try r.decode(line, as: schema, numbers: numbers) != nil { canonical &+= 1 }
                        case .general: try r.decode(line, as: schema)
                        }
                    } catch {
                        throw ValenceError.badData(path: "(benchmark input)", line: index + 1, detail: "\(error)")
                    }
                    sum.add(r)
                }
                let elapsed = start.duration(to: clock.now)
                let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
                result.bestNanosecondsPerRecord = min(result.bestNanosecondsPerRecord, ns / Double(max(1, lines.ranges.count)))
                result.checksum = sum.value
                result.canonicalLines = canonical
                progress?.update(done: progress.map { $0.done + 1 } ?? 0)
            }
        }
        return result
    }

    /// A cheap function of every decoded value (so no decoding work can be optimised away);
    /// `bench/simdjson/decode.cpp` computes the same one. Sums, not a hash chain, to keep its cost
    /// per record small and the same in both programs.
    public struct Checksum: Sendable {
        var ids: UInt64 = 0, text: UInt64 = 0, tokens: UInt64 = 0, logp: UInt64 = 0, verdicts: UInt64 = 0, adv: UInt64 = 0

        @inline(__always) mutating func add(_ r: Rollout) {
            ids &+= r.run.value &+ UInt64(bitPattern: Int64(r.step)) &+ UInt64(bitPattern: Int64(r.prompt))
                &+ UInt64(bitPattern: Int64(r.sample)) &+ UInt64(bitPattern: Int64(r.a)) &+ UInt64(bitPattern: Int64(r.b))
            text &+= UInt64(r.text.count)
            for c in r.text { text &+= UInt64(c) }
            for t in r.tokens { tokens &+= UInt64(bitPattern: Int64(t)) }
            for v in r.logp { logp &+= v.bitPattern }
            let verdict: UInt64 = switch r.verdict { case .correct: 0; case .wrong: 1; case .malformed: 2 }
            verdicts &+= verdict &+ UInt64(bitPattern: Int64(r.reward))
            adv &+= r.advantage.bitPattern
            for v in r.advantageTokens { adv &+= v.bitPattern }
        }

        var value: UInt64 {
            ids ^ text.rotated(11) ^ tokens.rotated(22) ^ logp.rotated(33) ^ verdicts.rotated(44) ^ adv.rotated(55)
        }
    }
}

private extension UInt64 {
    @inline(__always) func rotated(_ k: UInt64) -> UInt64 { self << k | self >> (64 - k) }
}
