import CZstd
import Dispatch

/// zstd compression and decompression contexts, kept between shards instead of created and freed
/// for every file.
///
/// At research scale a step writes and reads about 16 small shards (1-200 KB). A fresh
/// compression context allocated its ~570 KiB workspace and zeroed its 64 KiB hash table in the
/// first `ZSTD_compress2` of every file; a reused one continues its match indices past the
/// previous frame's, so the stale table entries are out of the new frame's window and nothing needs
/// clearing. The output does not depend on reuse: zstd documents reuse as a speed optimisation
/// only, and `ZstdContextPoolTests` compares shards written with reused contexts with those of
/// fresh ones, byte for byte (docs/performance.md, "Per-file cost of small shards").
///
/// A context is taken by one ``ShardWriter`` or ``LineChunks`` for the life of one file, then
/// recycled: reset to zstd's defaults (session and parameters, so a taken context is as good as a
/// fresh one: each user sets its own parameters) and kept, unless the pool already keeps
/// ``maxKept`` of its kind or the context holds more than ``maxKeptBytes``. The byte bound keeps
/// memory flat: a decompression context grows a window buffer as large as a streamed frame's window
/// (up to 128 MiB for a file from another writer), and such a context is freed, not kept. Contexts
/// of the shards Valence writes stay small whatever the shard's size, since frames are ~1 MiB
/// (compression ~570 KiB, decompression ~100 KiB). Thread-safe: sharded stages write and read
/// shards on several threads at once; taking and recycling cost one uncontended lock each.
final class ZstdContextPool: @unchecked Sendable {
    /// The pool every shard writer and reader uses.
    static let shared = ZstdContextPool()

    /// Contexts of each kind kept at most: enough for the shards open at once in a driver (split
    /// writes three per part; a sweep runs one part per CPU).
    let maxKept: Int
    /// The largest context kept (`ZSTD_sizeof_CCtx` / `ZSTD_sizeof_DCtx`).
    let maxKeptBytes: Int

    private let lock = DispatchSemaphore(value: 1)
    private var compressors: [OpaquePointer] = []
    private var decompressors: [OpaquePointer] = []

    init(maxKept: Int = 8, maxKeptBytes: Int = 4 << 20) {
        self.maxKept = maxKept
        self.maxKeptBytes = maxKeptBytes
        compressors.reserveCapacity(maxKept)
        decompressors.reserveCapacity(maxKept)
    }

    deinit {
        for c in compressors { ZSTD_freeCCtx(c) }
        for d in decompressors { ZSTD_freeDCtx(d) }
    }

    /// A compression context with zstd's default parameters; nil when none can be allocated.
    func takeCompressor() -> OpaquePointer? {
        take(\.compressors) ?? ZSTD_createCCtx()
    }

    /// Takes back a context from ``takeCompressor()``; the caller must not use it again.
    func recycle(compressor context: OpaquePointer) {
        ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters)
        if !keep(context, bytes: ZSTD_sizeof_CCtx(context), on: \.compressors) { ZSTD_freeCCtx(context) }
    }

    /// A decompression context with zstd's default parameters; nil when none can be allocated.
    func takeDecompressor() -> OpaquePointer? {
        take(\.decompressors) ?? ZSTD_createDCtx()
    }

    /// Takes back a context from ``takeDecompressor()``; the caller must not use it again.
    func recycle(decompressor context: OpaquePointer) {
        ZSTD_DCtx_reset(context, ZSTD_reset_session_and_parameters)
        if !keep(context, bytes: ZSTD_sizeof_DCtx(context), on: \.decompressors) { ZSTD_freeDCtx(context) }
    }

    private func take(_ shelf: ReferenceWritableKeyPath<ZstdContextPool, [OpaquePointer]>) -> OpaquePointer? {
        lock.wait()
        defer { lock.signal() }
        return self[keyPath: shelf].popLast()
    }

    /// Puts `context` on `shelf` unless it is too large or the shelf is full (then the caller frees it).
    private func keep(_ context: OpaquePointer, bytes: Int, on shelf: ReferenceWritableKeyPath<ZstdContextPool, [OpaquePointer]>) -> Bool {
        guard bytes <= maxKeptBytes else { return false }
        lock.wait()
        defer { lock.signal() }
        guard self[keyPath: shelf].count < maxKept else { return false }
        self[keyPath: shelf].append(context)
        return true
    }

    /// How many contexts of each kind are kept now (for tests).
    var keptCount: (compressors: Int, decompressors: Int) {
        lock.wait()
        defer { lock.signal() }
        return (compressors.count, decompressors.count)
    }
}
