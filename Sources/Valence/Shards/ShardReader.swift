import CZstd
import Dispatch
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
/// Memory stays flat: one compressed chunk, a few decompressed chunks and the current line. A file
/// that is not zstd, is corrupt (zstd's frame checksum) or ends mid-frame is rejected with an error
/// naming it; an error thrown while handling a line is reported with the file and line number.
public enum ShardReader {
    /// The longest line a shard may hold. Real records are a few hundred bytes; the limit keeps a
    /// corrupt or hostile file (say, gigabytes without a newline) from exhausting memory.
    public static let maxLineBytes = 1 << 26

    /// Calls `body` with each non-blank line (without its newline) and its 1-based line number.
    /// Returns how many lines were handled and the digest of the compressed file bytes (0 when
    /// `digest` is false: callers that do not use it skip hashing the file a second time).
    ///
    /// With `readAhead`, a second thread reads and decompresses the next chunks while `body` works
    /// on the current one. `body` still sees every line in order on the calling thread, and errors
    /// are the same, in the same order; only a stage that has the cores to itself should ask for it
    /// (update, which reads every shard of a step alone; sharded stages already fill the cores).
    @discardableResult
    public static func forEachLine(
        _ path: String,
        digest wantsDigest: Bool = true,
        readAhead: Bool = false,
        _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void
    ) throws -> (records: Int, digest: UInt64) {
        let source = try LineChunks(path: path, digest: wantsDigest)
        var lines = LineSplitter(path: path)
        if readAhead {
            try ReadAhead(source).forEach { chunk in try lines.handle(chunk, body) }
        } else {
            let slot = ChunkSlot()
            while true {
                let chunk = source.fill(slot)
                try lines.handle(chunk, body)
                if chunk.isLast { break }
            }
        }
        return (lines.records, wantsDigest ? source.digest.value : 0)
    }
}

/// Decompressed bytes that end on a line boundary (or, for the last chunk, at the end of the file).
struct LineChunk {
    /// Bytes of the chunk, valid until its slot is filled again; empty when the chunk is a problem.
    var bytes: UnsafeBufferPointer<UInt8>
    var isLast: Bool
    /// What went wrong instead of more lines; reported after every line before it was handled.
    var problem: ShardProblem?
}

/// Why a shard could not be read further; turned into an error naming the file (and line) by
/// ``LineSplitter``, which knows the line number.
enum ShardProblem: Error {
    case io(String)
    case notZstd(String)
    case empty
    case truncated
    case lineTooLong
}

/// A growable byte buffer a chunk is decompressed into. Owned by one thread at a time (the filler,
/// then the consumer), handed over through ``ReadAhead``'s semaphores.
final class ChunkSlot: @unchecked Sendable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int

    init(capacity: Int = 2 * ZSTD_DStreamOutSize()) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for `count` more bytes after the first `used`, keeping those.
    func reserve(used: Int, count: Int) {
        guard capacity - used < count else { return }
        let grown = max(capacity * 2, used + count)
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        fresh.update(from: base, count: used)
        base.deallocate()
        base = fresh
        capacity = grown
    }
}

/// Reads and decompresses one shard into chunks of whole lines; the partial line at the end of a
/// chunk is carried into the next.
final class LineChunks: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let dctx: OpaquePointer
    private let wantsDigest: Bool
    private(set) var digest = Digest()
    private var compressed: [UInt8]
    private var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    private let outSize = ZSTD_DStreamOutSize()
    /// The partial line that ended the previous chunk.
    private var tail: [UInt8] = []
    private var sawInput = false
    private var atEOF = false
    private var lastResult = 0

    init(path: String, digest: Bool) throws {
        self.path = path
        wantsDigest = digest
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw ValenceError.missingInput(path: path, detail: "no such shard") }
            throw ValenceError.io(path: path, detail: "cannot open: \(FileSystem.errnoText())")
        }
        guard let dctx = ZSTD_createDCtx() else {
            close(fd)
            throw ValenceError.io(path: path, detail: "zstd could not allocate a decompression context")
        }
        self.fd = fd
        self.dctx = dctx
        compressed = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
    }

    deinit {
        ZSTD_freeDCtx(dctx)
        close(fd)
    }

    /// Fills `slot` with the carried partial line and newly decompressed bytes, up to and including
    /// the last newline; at the end of the file, with whatever is left (the last chunk).
    func fill(_ slot: ChunkSlot) -> LineChunk {
        do {
            return try fillOrThrow(slot)
        } catch {
            return LineChunk(bytes: UnsafeBufferPointer(start: nil, count: 0), isLast: true, problem: error)
        }
    }

    private func fillOrThrow(_ slot: ChunkSlot) throws(ShardProblem) -> LineChunk {
        slot.reserve(used: 0, count: tail.count + outSize)
        var filled = tail.count
        tail.withUnsafeBufferPointer { t in if let b = t.baseAddress { slot.base.update(from: b, count: t.count) } }
        while true {
            if input.pos == input.size {
                if atEOF { break }
                let got = compressed.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if got < 0 {
                    if errno == EINTR { continue }
                    throw .io("read failed: \(FileSystem.errnoText())")
                }
                if got == 0 {
                    atEOF = true
                    break
                }
                sawInput = true
                if wantsDigest { compressed.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) } }
                input = compressed.withUnsafeBytes { ZSTD_inBuffer(src: $0.baseAddress, size: got, pos: 0) }
            }
            if filled > ShardReader.maxLineBytes { throw .lineTooLong }
            slot.reserve(used: filled, count: outSize)
            var out = ZSTD_outBuffer(dst: slot.base + filled, size: slot.capacity - filled, pos: 0)
            let r = compressed.withUnsafeBytes { src -> Int in
                input.src = src.baseAddress
                return ZSTD_decompressStream(dctx, &out, &input)
            }
            if ZSTD_isError(r) != 0 { throw .notZstd(String(cString: ZSTD_getErrorName(r))) }
            lastResult = r
            guard out.pos > 0 else { continue }
            let start = filled
            filled += out.pos
            // The chunk ends after the last newline of what was just decompressed.
            var end = filled
            while end > start && slot.base[end - 1] != 0x0A { end -= 1 }
            if end > start {
                tail = Array(UnsafeBufferPointer(start: slot.base + end, count: filled - end))
                return LineChunk(bytes: UnsafeBufferPointer(start: slot.base, count: end), isLast: false, problem: nil)
            }
        }
        if !sawInput { throw .empty }
        if lastResult != 0 { throw .truncated }
        tail = []
        return LineChunk(bytes: UnsafeBufferPointer(start: slot.base, count: filled), isLast: true, problem: nil)
    }
}

/// Splits chunks into lines, numbers them, skips blank ones and hands the rest to the body,
/// turning problems into errors that name the file and line.
struct LineSplitter {
    let path: String
    private(set) var records = 0
    private var lineNumber = 0

    init(path: String) { self.path = path }

    mutating func handle(_ chunk: LineChunk, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
        if let problem = chunk.problem { throw error(problem) }
        guard let base = chunk.bytes.baseAddress else { return }
        let count = chunk.bytes.count
        var consumed = 0
        while consumed < count {
            let end: Int
            if let nl = memchr(base + consumed, 0x0A, count - consumed) {
                end = UnsafeRawPointer(nl).assumingMemoryBound(to: UInt8.self) - base
            } else {
                end = count  // the last line of a file without a final newline
            }
            try line(base + consumed, end - consumed, body)
            consumed = end + 1
        }
    }

    private mutating func line(_ start: UnsafePointer<UInt8>, _ count: Int, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
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

    private func error(_ problem: ShardProblem) -> ValenceError {
        switch problem {
        case .io(let detail): return .io(path: path, detail: detail)
        case .notZstd(let name): return .badData(path: path, line: nil, detail: "not a valid zstd shard (\(name))")
        case .empty: return .badData(path: path, line: nil, detail: "empty file, not a zstd shard (truncated?)")
        case .truncated: return .badData(path: path, line: nil, detail: "truncated zstd shard (the file ends mid-frame)")
        case .lineTooLong:
            return .badData(path: path, line: lineNumber + 1, detail: "line longer than \(ShardReader.maxLineBytes >> 20) MiB (not a Valence record)")
        }
    }
}

/// Fills chunks on a second thread, a few ahead of the consumer, and hands them over in order.
///
/// The filler takes a free slot, fills it and publishes it; the consumer takes published slots in
/// order and frees each once its lines are handled. If the consumer stops early (its body threw),
/// it tells the filler to stop and waits for it, so no thread outlives the call.
final class ReadAhead: @unchecked Sendable {
    private static let slotCount = 3
    private let source: LineChunks
    private let slots = (0..<ReadAhead.slotCount).map { _ in ChunkSlot() }
    private var chunks = [LineChunk?](repeating: nil, count: ReadAhead.slotCount)
    /// Starts at 0 and is signalled once per slot in init: libdispatch traps when a semaphore is
    /// released with a value below the one it was created with.
    private let free = DispatchSemaphore(value: 0)
    private let published = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let lock = DispatchSemaphore(value: 0)
    private var stopRequested = false

    init(_ source: LineChunks) {
        self.source = source
        for _ in 0..<ReadAhead.slotCount { free.signal() }
        lock.signal()
    }

    private var shouldStop: Bool {
        lock.wait()
        defer { lock.signal() }
        return stopRequested
    }

    private func fillAll() {
        var i = 0
        while true {
            free.wait()
            if shouldStop { break }
            let chunk = source.fill(slots[i])
            chunks[i] = chunk
            published.signal()
            if chunk.isLast { break }
            i = (i + 1) % ReadAhead.slotCount
        }
        finished.signal()
    }

    func forEach(_ handle: (LineChunk) throws -> Void) throws {
        DispatchQueue.global().async { self.fillAll() }
        defer {
            lock.wait()
            stopRequested = true
            lock.signal()
            free.signal()
            finished.wait()
        }
        var i = 0
        while true {
            published.wait()
            guard let chunk = chunks[i] else { preconditionFailure("a published chunk slot is empty") }
            try handle(chunk)
            if chunk.isLast { return }
            chunks[i] = nil
            free.signal()
            i = (i + 1) % ReadAhead.slotCount
        }
    }
}
