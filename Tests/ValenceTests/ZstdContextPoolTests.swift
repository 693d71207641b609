import CZstd
import Foundation
import Testing
@testable import Valence

/// zstd contexts reused across shards (``ZstdContextPool``): the shards are the bytes a fresh
/// context per file writes, contexts are really taken back and reused, large ones are freed
/// instead of kept, and writers and readers on several threads at once share one pool.
@Suite struct ZstdContextPoolTests {
    let shards = ShardTests()

    /// Writes `rollouts` through a writer whose context comes from `pool`; returns the file's bytes.
    func write(_ rollouts: ArraySlice<Rollout>, _ path: String, _ pool: ZstdContextPool, level: Int32 = 1) throws -> [UInt8] {
        let w = try ShardWriter(path: path, level: level, contexts: pool)
        for r in rollouts {
            r.encode(into: &w.json, as: .weighted)
            try w.endRecord()
        }
        try w.commit()
        return try FileSystem.readFile(path)
    }

    /// Shard sizes in an order that makes a reused context shrink and grow (several frames, empty,
    /// one record, a small part, several frames again), and a level that changes zstd's strategy
    /// and tables in between.
    static let shardsInOrder: [(records: Int, level: Int32)] = [
        (9_000, 1), (0, 1), (1, 1), (700, 1), (40, 1), (4_000, 1), (12_000, 1), (3, 1), (2_500, 5), (2_500, 1), (800, 1),
    ]

    @Test func reusedCompressorWritesTheBytesOfFreshOnes() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rollouts = shards.sampleRollouts(13_000)
        let fresh = ZstdContextPool(maxKept: 0)  // a new context per shard, as before the pool
        let reused = ZstdContextPool(maxKept: 1)
        var offset = 0
        for (i, (n, level)) in Self.shardsInOrder.enumerated() {
            let part = rollouts[offset % 1000..<(offset % 1000 + n)]
            offset += 337
            let a = try write(part, "\(dir)/fresh-\(i).jsonl.zst", fresh, level: level)
            let b = try write(part, "\(dir)/reused-\(i).jsonl.zst", reused, level: level)
            #expect(a == b, "shard \(i) (\(n) records, level \(level)): \(a.count) bytes fresh, \(b.count) reused")
            #expect(fresh.keptCount.compressors == 0)
            #expect(reused.keptCount.compressors == 1, "the writer's context was taken back")
        }
    }

    /// The same through ``ShardWriter``'s public initialiser, against zstd's one-shot compression
    /// with a fresh context of each frame's content (so the test does not rely on the pool's own
    /// fresh mode): level 1, checksum, one frame per ~1 MiB of records.
    @Test func sharedPoolShardsEqualFreshContextFrames() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rollouts = shards.sampleRollouts(9_000)
        for (i, n) in [9_000, 5, 300, 9_000].enumerated() {
            let path = "\(dir)/s\(i).jsonl.zst"
            _ = try shards.write(Array(rollouts.prefix(n)), to: path, as: .weighted)
            let bytes = try FileSystem.readFile(path)
            #expect(try recompressedFrames(bytes) == bytes, "shard \(i) (\(n) records)")
        }
    }

    /// Every frame of `bytes` decompressed and compressed again with a new context, concatenated.
    func recompressedFrames(_ bytes: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        try bytes.withUnsafeBytes { raw in
            let base = try #require(raw.baseAddress)
            while offset < bytes.count {
                let size = ZSTD_findFrameCompressedSize(base + offset, bytes.count - offset)
                try #require(ZSTD_isError(size) == 0)
                let content = Int(ZSTD_getFrameContentSize(base + offset, size))
                var plain = [UInt8](repeating: 0, count: content)
                let got = plain.withUnsafeMutableBytes { ZSTD_decompress($0.baseAddress, content, base + offset, size) }
                try #require(got == content)
                let cctx = try #require(ZSTD_createCCtx())
                defer { ZSTD_freeCCtx(cctx) }
                ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1)
                ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
                var frame = [UInt8](repeating: 0, count: ZSTD_compressBound(content))
                let n = frame.withUnsafeMutableBytes { dst in
                    plain.withUnsafeBytes { ZSTD_compress2(cctx, dst.baseAddress, dst.count, $0.baseAddress, content) }
                }
                try #require(ZSTD_isError(n) == 0)
                out += frame[0..<n]
                offset += size
            }
        }
        return out
    }

    /// Every line of `path` read through a ``LineChunks`` whose context comes from `pool`.
    func readAll(_ path: String, _ pool: ZstdContextPool) throws -> Int {
        let source = try LineChunks(path: path, digest: true, contexts: pool)
        var lines = LineSplitter(path: path)
        let slot = ChunkSlot()
        while true {
            let chunk = source.fill(slot)
            try lines.handle(chunk) { _, _ in }
            if chunk.isLast { break }
        }
        return lines.records
    }

    /// A zstd frame of `text` streamed with a `windowLog` window and no content size in its header,
    /// as `zstd` writes from a pipe: the reader streams it, and the decompression context grows a
    /// window buffer of that size.
    func streamedFrame(_ text: [UInt8], windowLog: Int32) throws -> [UInt8] {
        let cctx = try #require(ZSTD_createCCtx())
        defer { ZSTD_freeCCtx(cctx) }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, windowLog)
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(text.count) + 1024)
        var produced = 0
        try text.withUnsafeBytes { src in
            try out.withUnsafeMutableBytes { dst in
                var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
                var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                // Continue first, then end: the compressor never learns the whole size up front.
                try #require(ZSTD_isError(ZSTD_compressStream2(cctx, &output, &input, ZSTD_e_continue)) == 0)
                var left = 1
                while left != 0 {
                    left = ZSTD_compressStream2(cctx, &output, &input, ZSTD_e_end)
                    try #require(ZSTD_isError(left) == 0)
                }
                produced = output.pos
            }
        }
        return Array(out[0..<produced])
    }

    @Test func decompressorsAreReusedAndLargeOnesFreed() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let small = "\(dir)/small.jsonl.zst"
        _ = try shards.write(shards.sampleRollouts(500), to: small, as: .weighted)
        let text = Array((0..<20_000).map { "{\"line\":\($0)}\n" }.joined().utf8)
        let wide = "\(dir)/wide.jsonl.zst"
        try FileSystem.writeAtomically(wide, bytes: try streamedFrame(text, windowLog: 24))

        let pool = ZstdContextPool(maxKept: 2, maxKeptBytes: 4 << 20)
        #expect(try readAll(small, pool) == 500)
        #expect(pool.keptCount.decompressors == 1)
        #expect(try readAll(small, pool) == 500)
        #expect(pool.keptCount.decompressors == 1, "the kept context was taken and given back")
        // The 16 MiB window buffer this file needs makes its context too large to keep.
        #expect(try readAll(wide, pool) == 20_000)
        #expect(pool.keptCount.decompressors == 0)
        #expect(try readAll(small, pool) == 500)
        #expect(pool.keptCount.decompressors == 1)
        // With a bound that allows it, the same context is kept.
        let roomy = ZstdContextPool(maxKept: 2, maxKeptBytes: 64 << 20)
        #expect(try readAll(wide, roomy) == 20_000)
        #expect(roomy.keptCount.decompressors == 1)
        // A reader that stops midway (its context mid-frame) hands back a context that reads a
        // whole file again from its start.
        do {
            let partial = try LineChunks(path: wide, digest: false, contexts: roomy)
            let first = partial.fill(ChunkSlot())
            #expect(!first.isLast && first.problem == nil)
        }
        #expect(try readAll(small, roomy) == 500)
        #expect(try readAll(wide, roomy) == 20_000)
    }

    @Test func writersKeepAtMostTheBound() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pool = ZstdContextPool(maxKept: 2)
        let rollouts = shards.sampleRollouts(10)
        // Five writers open at once, as split keeps three per part on each thread.
        do {
            let writers = try (0..<5).map { try ShardWriter(path: "\(dir)/w\($0).jsonl.zst", level: 1, contexts: pool) }
            #expect(pool.keptCount.compressors == 0)
            for w in writers {
                for r in rollouts {
                    r.encode(into: &w.json, as: .weighted)
                    try w.endRecord()
                }
                try w.commit()
            }
        }
        #expect(pool.keptCount.compressors == 2)
        for i in 0..<5 { #expect(try shards.read("\(dir)/w\(i).jsonl.zst", as: .weighted).count == 10) }
    }

    /// Shards written and read on several threads at once through the shared pool are the bytes a
    /// fresh context per shard writes, and read back whole.
    @Test func threadsShareThePool() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rollouts = shards.sampleRollouts(6_000)
        let fresh = ZstdContextPool(maxKept: 0)
        let counts = (0..<16).map { [5_000, 1, 300, 60, 2_000, 0, 6_000, 17][$0 % 8] }
        let expected = try counts.enumerated().map { i, n in
            try write(rollouts[0..<n], "\(dir)/expected-\(i).jsonl.zst", fresh)
        }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: counts.count) { i in
            do {
                let path = "\(dir)/t\(i).jsonl.zst"
                for round in 0..<3 {
                    let bytes = try write(rollouts[0..<counts[i]], path, .shared)
                    if bytes != expected[i] { failures.add("shard \(i) round \(round): bytes differ") }
                    let back = try shards.read(path, as: .weighted)
                    if back.count != counts[i] { failures.add("shard \(i) round \(round): \(back.count) records") }
                }
            } catch {
                failures.add("shard \(i): \(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(ZstdContextPool.shared.keptCount.compressors <= ZstdContextPool.shared.maxKept)
    }

    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var messages: [String] = []
        func add(_ message: String) { lock.withLock { messages.append(message) } }
        var all: [String] { lock.withLock { messages } }
    }
}
