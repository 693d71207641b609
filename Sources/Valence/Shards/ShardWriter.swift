import CZstd

/// What a completed shard holds: the numbers its manifest entry records.
public struct ShardSummary: Sendable, Equatable {
    public var path: String
    public var records: Int
    public var bytes: Int
    public var digest: UInt64
}

/// Streams JSONL records into a zstd-compressed shard under a temporary name.
///
/// Callers encode each record into ``json`` and call ``endRecord()``. Nothing is visible under the
/// final name until ``commit()`` has flushed, fsynced and renamed the file, so a crash leaves
/// either no shard or a complete one.
public final class ShardWriter {
    public let path: String
    let temporaryPath: String
    let file: OutputFile
    let context: OpaquePointer
    var output: [UInt8]
    /// The pending uncompressed bytes; records are encoded straight into it.
    ///
    /// Unchecked exclusivity: accessed a few times per record, where the runtime's dynamic check
    /// cost more than encoding. Stages encode into it and then call ``endRecord()``, one after
    /// the other; nothing holds an access across another.
    @exclusivity(unchecked) public var json = JSONWriter(capacity: 1 << 18)
    @exclusivity(unchecked) public private(set) var records = 0
    var compressedBytes = 0
    var digest = Digest()
    var committed = false

    /// Uncompressed bytes buffered before each compression call.
    static let chunkSize = 1 << 17

    public init(path: String, level: Int32 = 1) throws {
        self.path = path
        try FileSystem.makeDirectories(FileSystem.directoryName(path))
        temporaryPath = FileSystem.temporaryName(for: path)
        file = try OutputFile(path: temporaryPath)
        guard let cctx = ZSTD_createCCtx() else {
            throw ValenceError.io(path: path, detail: "zstd could not allocate a compression context")
        }
        context = cctx
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    }

    deinit {
        ZSTD_freeCCtx(context)
        if !committed { FileSystem.remove(temporaryPath) }
    }

    /// Terminates the record just encoded into ``json``.
    @inline(__always)
    public func endRecord() throws {
        json.newline()
        records += 1
        if json.count >= ShardWriter.chunkSize { try compressPending(end: false) }
    }

    /// Appends a record given as bytes without the trailing newline.
    public func append(line: [UInt8]) throws {
        line.withUnsafeBufferPointer { json.append($0) }
        try endRecord()
    }

    func compressPending(end: Bool) throws {
        let mode = end ? ZSTD_e_end : ZSTD_e_continue
        try json.withBytes { src in
            var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
            while true {
                let remaining = try output.withUnsafeMutableBytes { dst -> Int in
                    var out = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                    let r = ZSTD_compressStream2(context, &out, &input, mode)
                    if ZSTD_isError(r) != 0 {
                        throw ValenceError.io(path: path, detail: "zstd compression failed: \(String(cString: ZSTD_getErrorName(r)))")
                    }
                    let produced = UnsafeRawBufferPointer(start: dst.baseAddress, count: out.pos)
                    digest.update(produced)
                    compressedBytes += out.pos
                    try file.write(produced)
                    return r
                }
                if end ? remaining == 0 : input.pos == input.size { break }
            }
        }
        json.reset()
    }

    /// Finishes the frame, makes the file durable and renames it into place.
    @discardableResult
    public func commit() throws -> ShardSummary {
        try compressPending(end: true)
        try file.sync()
        try file.close()
        try FileSystem.rename(temporaryPath, to: path)
        committed = true
        return ShardSummary(path: path, records: records, bytes: compressedBytes, digest: digest.value)
    }
}
