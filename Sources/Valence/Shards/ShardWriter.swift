import CZstd

/// What a completed shard holds: the numbers its manifest entry records.
public struct ShardSummary: Sendable, Equatable {
    public var path: String
    public var records: Int
    public var bytes: Int
    public var digest: UInt64

    /// Whether the shard was handed to a write-behind queue and is still to be written there: its
    /// size and digest are 0 until then (a written shard has at least a frame header).
    public var isHandedOff: Bool { bytes == 0 }
}

/// Writes JSONL records into a zstd-compressed shard under a temporary name.
///
/// Callers encode each record into ``json`` and call ``endRecord()``. Nothing is visible under the
/// final name until ``commit()`` has flushed, fsynced and renamed the file (an ``AtomicFile``:
/// created fresh with `O_EXCL | O_NOFOLLOW`, never through a planted link), so a crash leaves
/// either no shard or a complete one.
///
/// The shard is a sequence of independent zstd frames, each holding the whole records pending
/// when they reached ``frameSize`` (so a frame ends at a record boundary). Each frame is
/// compressed in one call from ``json`` straight into ``output``: zstd's streaming API copied every
/// input byte into its own buffer first (~270 instructions per record). One-shot frames record
/// their content size, which lets ``ShardReader`` decompress them in one call too. Any zstd tool
/// reads the concatenation as one stream.
///
/// Given a ``WriteBehind`` queue that is on (an in-process run), a shard that fits one frame is
/// handed over whole at ``commit()``: the queue's threads compress it and write it, and its text
/// (with its rollouts, ``HandedRollouts``) goes to ``WrittenShards`` for the part that reads it
/// next; nothing of it is compressed or written on the caller's thread. A shard that outgrows one
/// frame is written here from then on, as without a queue.
public final class ShardWriter {
    public let path: String
    /// The file being written; nil while the shard may still be handed to `writeBehind`.
    var file: AtomicFile?
    /// The queue a one-frame shard is handed to (nil: written here).
    let writeBehind: WriteBehind?
    let level: Int32
    /// Taken from `contexts` for this shard, handed back by deinit.
    let context: OpaquePointer
    let contexts: ZstdContextPool
    /// Compressed bytes of one frame (`outputCapacity` bytes, uninitialised: zstd writes what is
    /// read); reused, grown only for a frame with an unusually long record.
    var output: UnsafeMutableRawPointer?
    var outputCapacity = 0
    /// The pending uncompressed bytes; records are encoded straight into it.
    ///
    /// Unchecked exclusivity: accessed a few times per record, where the runtime's dynamic check
    /// cost more than encoding. Stages encode into it and then call ``endRecord()``, one after
    /// the other; nothing holds an access across another.
    @exclusivity(unchecked) public var json = JSONWriter(capacity: ShardWriter.frameSize + ShardWriter.frameSlack)
    @exclusivity(unchecked) public internal(set) var records = 0
    var compressedBytes = 0
    var digest = Digest()
    var wroteFrame = false
    /// The rollouts written so far, kept while the shard may be handed off whole (``write(_:as:core:)``).
    @exclusivity(unchecked) var handed: HandedRollouts?
    /// False once a record was written that the reader must decode to be refused (``write(_:as:core:)``).
    var keepsRollouts = true

    /// Uncompressed bytes after which the pending records become one frame. Larger frames
    /// compress slightly better (one frame for the whole shard is 0.9% smaller than 1 MiB frames)
    /// but cost the reader and writer that much buffer memory per open shard.
    static let frameSize = 1 << 20
    /// Room for the record that takes ``json`` past ``frameSize`` without growing it.
    static let frameSlack = 1 << 16

    public convenience init(path: String, level: Int32 = 1) throws {
        try self.init(path: path, level: level, contexts: .shared)
    }

    /// The compression context comes from `contexts` (``ZstdContextPool``: reused across shards,
    /// with the same output as a fresh one).
    init(path: String, level: Int32, contexts: ZstdContextPool, writeBehind: WriteBehind? = nil) throws {
        self.path = path
        self.level = level
        self.writeBehind = writeBehind.flatMap { $0.isOn ? $0 : nil }
        file = self.writeBehind == nil ? try AtomicFile(replacing: path) : nil
        context = try Self.compressor(from: contexts, level: level, path: path)
        self.contexts = contexts
        // The compressed-frame buffer is allocated at the first frame, to that frame's bound (a
        // small shard never needs the 1 MiB a full frame does).
    }

    /// An uncommitted shard's temporary file is removed by its ``AtomicFile``.
    deinit {
        output?.deallocate()
        contexts.recycle(compressor: context)
    }

    /// Terminates the record just encoded into ``json``.
    @inline(__always)
    public func endRecord() throws {
        json.newline()
        records += 1
        if json.count >= ShardWriter.frameSize { try compressFrame() }
    }

    /// Appends a record given as bytes without the trailing newline.
    public func append(line: [UInt8]) throws {
        line.withUnsafeBufferPointer { json.append($0) }
        try endRecord()
    }

    /// Compresses the pending records as one frame, writes it and empties ``json``.
    func compressFrame() throws {
        try json.withBytes { try writeFrame(of: $0) }
        json.reset()
        wroteFrame = true
        handed = nil  // written here: no text to keep, so no records either
    }

    /// Compresses `src`, whole records, as one frame and writes it.
    private func writeFrame(of src: UnsafeBufferPointer<UInt8>) throws {
        let bound = ZSTD_compressBound(src.count)
        if outputCapacity < bound {
            // Not zero-filled: zstd writes every byte that is read (zeroing a 1 MiB bound cost
            // more than compressing a small shard).
            output?.deallocate()
            output = .allocate(byteCount: bound, alignment: 16)
            outputCapacity = bound
        }
        let n = try Self.compress(src, with: context, into: output, capacity: outputCapacity, path: path)
        let produced = UnsafeRawBufferPointer(start: output, count: n)
        digest.update(produced)
        compressedBytes += n
        if file == nil { file = try AtomicFile(replacing: path) }  // more than one frame: written here
        try file?.write(produced)  // an error names `path` (AtomicFile.write)
    }

    /// Compresses the last frame, makes the file durable and renames it into place. A shard
    /// without records still gets one (empty) frame: a zero-byte file is not valid zstd, and
    /// readers refuse it as a truncated shard.
    ///
    /// A shard handed to the write-behind queue returns its path and record count at once, its size
    /// and digest 0 until the queue has written it (``WriteBehind/resolve(_:in:)``).
    @discardableResult
    public func commit() throws -> ShardSummary {
        if !wroteFrame, let writeBehind { return handOff(to: writeBehind) }
        try commitHere()
        return ShardSummary(path: path, records: records, bytes: compressedBytes, digest: digest.value)
    }

    /// Compresses what is left and commits the file on this thread; the file's identity.
    @discardableResult
    func commitHere() throws -> DigestCache.Identity? {
        if json.count > 0 || !wroteFrame { try compressFrame() }
        return try file?.commit(digest: digest.value)
    }

    /// Hands the whole shard, still one frame of text in ``json``, to `queue`.
    private func handOff(to queue: WriteBehind) -> ShardSummary {
        let text = WrittenShards.Text(taking: json.storage, rollouts: handed)
        handed = nil
        json = JSONWriter(capacity: 16)
        let (path, records) = (path, records)
        // The same frame this thread would have made (the same bytes), compressed beside the
        // writer thread; the file is written in the queue's order.
        let frame = queue.compress(text, level: level, path: path)
        WrittenShards.shared.pending(path, text: text) {
            queue.submit(path, { () -> ShardSummary in
                do {
                    let compressed = try frame.wait()
                    let file = try AtomicFile(replacing: path)
                    try file.write(compressed.bytes)  // an error names `path` (AtomicFile.write)
                    let identity = try file.commit(digest: compressed.digest)
                    WrittenShards.shared.written(path, text: text, identity: identity)
                    return ShardSummary(path: path, records: records, bytes: compressed.bytes.count, digest: compressed.digest)
                } catch {
                    WrittenShards.shared.forget(path, text: text)
                    throw error
                }
            }, skipped: { WrittenShards.shared.forget(path, text: text) })
        }
        return ShardSummary(path: path, records: records, bytes: 0, digest: 0)
    }
}

extension ShardWriter {
    /// A compression context from `contexts` with a shard's sticky parameters (`level`, and a
    /// checksum in every frame): the one place a shard's frames get them, whether compressed here
    /// or ahead of a write-behind write (``CompressedFrame``), so both give the same bytes.
    static func compressor(from contexts: ZstdContextPool, level: Int32, path: String) throws -> OpaquePointer {
        guard let context = contexts.takeCompressor() else {
            throw ValenceError.io(path: path, detail: "zstd could not allocate a compression context")
        }
        // Sticky parameters: every ZSTD_compress2 call on this context uses them.
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        return context
    }

    /// Compresses `src`, whole records, as one frame into `dst` (`capacity` bytes, at least
    /// `ZSTD_compressBound(src.count)`, not zero-filled: zstd writes every byte that is read); the
    /// frame's size. `path` names the shard in an error.
    static func compress(_ src: UnsafeBufferPointer<UInt8>, with context: OpaquePointer, into dst: UnsafeMutableRawPointer?,
                         capacity: Int, path: String) throws -> Int {
        let n = ZSTD_compress2(context, dst, capacity, src.baseAddress, src.count)
        if ZSTD_isError(n) != 0 {
            throw ValenceError.io(path: path, detail: "zstd compression failed: \(String(cString: ZSTD_getErrorName(n)))")
        }
        return n
    }
}
