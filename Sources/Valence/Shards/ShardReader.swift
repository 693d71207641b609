import CZstd
#if canImport(Glibc)
import Glibc
#endif

/// A problem with one record's content (wrong type, missing field, bad value). The shard reader
/// adds the file and line to it.
public struct RecordError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Streams the lines of a zstd-compressed JSONL shard.
///
/// Memory stays flat: one compressed chunk, one decompressed chunk and the current line. A file
/// that is not zstd, is corrupt (zstd's frame checksum) or ends mid-frame is rejected with an error
/// naming it; an error thrown while handling a line is reported with the file and line number.
public enum ShardReader {
    /// The longest line a shard may hold. Real records are a few hundred bytes; the limit keeps a
    /// corrupt or hostile file (say, gigabytes without a newline) from exhausting memory.
    public static let maxLineBytes = 1 << 26

    /// Calls `body` with each non-blank line (without its newline) and its 1-based line number.
    /// Returns how many lines were handled and the digest of the compressed file bytes (0 when
    /// `digest` is false: callers that do not use it skip hashing the file a second time).
    @discardableResult
    public static func forEachLine(
        _ path: String,
        digest wantsDigest: Bool = true,
        _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void
    ) throws -> (records: Int, digest: UInt64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw ValenceError.missingInput(path: path, detail: "no such shard") }
            throw ValenceError.io(path: path, detail: "cannot open: \(FileSystem.errnoText())")
        }
        defer { close(fd) }
        guard let dctx = ZSTD_createDCtx() else {
            throw ValenceError.io(path: path, detail: "zstd could not allocate a decompression context")
        }
        defer { ZSTD_freeDCtx(dctx) }

        var compressed = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
        let outSize = ZSTD_DStreamOutSize()
        // Decompressed bytes land after any partial line carried over from the previous chunk.
        var lines = [UInt8](repeating: 0, count: outSize * 2)
        var carried = 0
        var lineNumber = 0
        var records = 0
        var digest = Digest()
        var sawInput = false
        var lastResult = 0

        func handle(_ start: UnsafePointer<UInt8>, _ count: Int) throws {
            lineNumber += 1
            var n = count
            while n > 0, start[n - 1] == 0x0D || start[n - 1] == 0x20 || start[n - 1] == 0x09 { n -= 1 }
            var blank = true
            for i in 0..<n where start[i] != 0x20 && start[i] != 0x09 {
                blank = false
                break
            }
            if blank { return }
            do {
                try body(UnsafeBufferPointer(start: start, count: n), lineNumber)
            } catch let e as JSONSyntaxError {
                throw ValenceError.badData(path: path, line: lineNumber, detail: "invalid JSON at \(e)")
            } catch let e as RecordError {
                throw ValenceError.badData(path: path, line: lineNumber, detail: e.message)
            }
            records += 1
        }

        while true {
            let got = compressed.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw ValenceError.io(path: path, detail: "read failed: \(FileSystem.errnoText())")
            }
            if got == 0 { break }
            sawInput = true
            if wantsDigest { compressed.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) } }
            var input = compressed.withUnsafeBytes { ZSTD_inBuffer(src: $0.baseAddress, size: got, pos: 0) }
            while input.pos < input.size {
                if carried > maxLineBytes {
                    throw ValenceError.badData(path: path, line: lineNumber + 1, detail: "line longer than \(maxLineBytes >> 20) MiB (not a Valence record)")
                }
                if lines.count - carried < outSize { lines.append(contentsOf: [UInt8](repeating: 0, count: outSize)) }
                let produced = try compressed.withUnsafeBytes { src -> Int in
                    input.src = src.baseAddress
                    return try lines.withUnsafeMutableBytes { dst -> Int in
                        var out = ZSTD_outBuffer(dst: dst.baseAddress! + carried, size: dst.count - carried, pos: 0)
                        let r = ZSTD_decompressStream(dctx, &out, &input)
                        if ZSTD_isError(r) != 0 {
                            let name = String(cString: ZSTD_getErrorName(r))
                            throw ValenceError.badData(path: path, line: nil, detail: "not a valid zstd shard (\(name))")
                        }
                        lastResult = r
                        return out.pos
                    }
                }
                let filled = carried + produced
                // Hand every complete line to the body, then keep the tail for the next chunk.
                var consumed = 0
                try lines.withUnsafeBufferPointer { buf in
                    let base = buf.baseAddress!
                    while consumed < filled {
                        guard let nl = memchr(base + consumed, 0x0A, filled - consumed) else { break }
                        let end = UnsafeRawPointer(nl).assumingMemoryBound(to: UInt8.self) - base
                        try handle(base + consumed, end - consumed)
                        consumed = end + 1
                    }
                }
                carried = filled - consumed
                if consumed > 0 && carried > 0 {
                    _ = lines.withUnsafeMutableBytes { raw in
                        memmove(raw.baseAddress!, raw.baseAddress! + consumed, carried)
                    }
                }
            }
        }
        if !sawInput {
            throw ValenceError.badData(path: path, line: nil, detail: "empty file, not a zstd shard (truncated?)")
        }
        if lastResult != 0 {
            throw ValenceError.badData(path: path, line: nil, detail: "truncated zstd shard (the file ends mid-frame)")
        }
        if carried > 0 {
            try lines.withUnsafeBufferPointer { try handle($0.baseAddress!, carried) }
        }
        return (records, wantsDigest ? digest.value : 0)
    }
}
