import Foundation
import Testing
@testable import Valence

/// In-process, a part reads the rollouts the part before it wrote from the records it kept
/// (`HandedRollouts`) instead of decoding the lines again. What it gets must be exactly what
/// decoding gives it, into the same reused value: every field the line holds, the others left as
/// they were, and the same core bytes to copy.
@Suite(.serialized) struct HandedRolloutsTests {
    /// Rollouts of every shape a shard holds: token counts 0-6, every verdict, token advantages
    /// present or not, numbers of every layout.
    static func records(_ schema: Schema) -> [Rollout] {
        var rng = CounterRNG(seed: 9, purpose: .rollout)
        return (0..<200).map { i in
            var r = TestSupport.sampleRollout()
            r.prompt = i / 8
            r.sample = i % 8
            let n = i % 7
            r.tokens = (0..<n).map { _ in Int(rng.unit() * 10) }
            r.text = r.tokens.map { UInt8(48 + $0) } + (i % 5 == 0 ? Array("+x".utf8) : [])
            r.logp = (0..<n).map { j in j == 0 ? -0.0 : -rng.unit() * pow(10, Double(j) - 3) }
            r.verdict = Verdict.allCases[i % 3]
            r.reward = r.verdict.reward
            r.advantage = (rng.unit() - 0.5) * 4
            r.advantageTokens = schema == .weighted && i % 2 == 0 ? (0..<n).map { _ in rng.unit() - 0.5 } : []
            return r
        }
    }

    /// A fresh directory with a write-behind queue that is on, and shard writers that hand to it.
    struct Handing {
        let dir = TestSupport.temporaryDirectory("valence-handed")
        let queue = WriteBehind()

        init() { queue.isOn = true }

        /// A writer of the shard `name` in ``dir``, and its path.
        func writer(_ name: String) throws -> (path: String, writer: ShardWriter) {
            let path = "\(dir)/\(name)"
            return (path, try ShardWriter(path: path, level: 1, contexts: .shared, writeBehind: queue))
        }

        /// Waits for the queue, then removes the directory.
        func finish() throws {
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try queue.drain()
        }
    }

    @Test(arguments: [Schema.rollout, .verified, .weighted])
    func loadingARecordIsDecodingItsLine(schema: Schema) throws {
        let handing = Handing()
        let (path, writer) = try handing.writer("shard.jsonl.zst")
        let records = Self.records(schema)
        for r in records { try writer.write(r, as: schema) }
        try writer.commit()
        let text = try #require(WrittenShards.shared.text(of: path))
        let handed = try #require(text.rollouts)
        #expect(handed.schema == schema && handed.count == records.count)

        // Both readers start from a value that differs in every field, as a reused one does. The
        // lines come from the shard reader, which reads them from the kept text.
        var decoded = TestSupport.sampleRollout(), loaded = decoded
        decoded.verdict = .malformed; decoded.reward = 0; decoded.advantage = 7; decoded.advantageTokens = [1, 2]
        loaded = decoded
        let lines = try NumberTextCache.borrow { numbers in
            try ShardReader.forEachLine(path, digest: false) { lineBytes, line in
                let core = try #require(try decoded.decode(lineBytes, as: schema, numbers: numbers))
                handed.load(line - 1, into: &loaded)
                #expect(loaded == decoded, "line \(line)")
                let kept = text.withBytes { Array(UnsafeBufferPointer(rebasing: $0[handed.core(line - 1)])) }
                #expect(kept == Array(core.bytes), "line \(line)")
            }
        }.records
        #expect(lines == records.count)
        try handing.finish()
    }

    /// A shard that outgrows one frame is written in place: nothing is kept for it.
    @Test func aShardWrittenInPlaceKeepsNoRecords() throws {
        let handing = Handing()
        let (path, writer) = try handing.writer("big.jsonl.zst")
        var r = TestSupport.sampleRollout()
        r.text = Array(repeating: UInt8(ascii: "7"), count: 4000)
        for i in 0..<400 {
            r.sample = i
            try writer.write(r, as: .verified)
        }
        let summary = try writer.commit()
        #expect(!summary.isHandedOff && summary.records == 400)
        #expect(WrittenShards.shared.text(of: path)?.rollouts == nil)
        try handing.finish()
    }

    /// A record whose line the decoder would refuse (an advantage past 1e9, from a hand-edited
    /// critic, say) is never handed over: its shard keeps no records, so the part reading it next
    /// decodes it and fails on that line, as the stage executable would.
    @Test func aShardWithARecordTheDecoderRefusesKeepsNoRecords() throws {
        let handing = Handing()
        let (path, writer) = try handing.writer("weighted.jsonl.zst")
        var r = TestSupport.sampleRollout()
        for i in 0..<10 {
            r.sample = i
            r.advantage = i == 6 ? -2e9 : 0.5
            try writer.write(r, as: .weighted)
        }
        try writer.commit()
        #expect(try #require(WrittenShards.shared.text(of: path)).rollouts == nil)
        #expect(throws: ValenceError.badData(path: path, line: 7, detail: "advantage -2000000000.0 is outside [-1e9, 1e9]")) {
            _ = try ShardReader.forEachLine(path, digest: false) { line, _ in
                var decoded = Rollout()
                try decoded.decode(line, as: .weighted)
            }
        }
        #expect(TestSupport.sampleRollout().decodesAsWritten(as: .weighted))
        var bad = TestSupport.sampleRollout()
        bad.tokens[0] = 12
        #expect(!bad.decodesAsWritten(as: .rollout))
        bad = TestSupport.sampleRollout()
        bad.reward = 0
        #expect(bad.decodesAsWritten(as: .rollout) && !bad.decodesAsWritten(as: .verified))
        try handing.finish()
    }
}
