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
    /// (update and eval, which read a whole step alone; sharded stages already fill the cores). It
    /// is not granted when the process may use one CPU only (a second thread would only compete
    /// with the first) or no thread can be started: then lines are read in turn on this thread.
    @discardableResult
    public static func forEachLine(
        _ path: String,
        digest wantsDigest: Bool = true,
        readAhead: Bool = false,
        _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void
    ) throws -> (records: Int, digest: UInt64) {
        if let kept = WrittenShards.shared.text(of: path) {
            // Just written by this process: the same lines as decompressing the file (the same
            // confinement check as opening it first).
            try Confinement.check(path)
            var lines = LineSplitter(path: path)
            try kept.withBytes { try lines.handle(LineChunk(bytes: $0, isLast: true), body) }
            return (lines.records, wantsDigest ? try Digest.ofFile(path).value : 0)
        }
        let source = try LineChunks(path: path, digest: wantsDigest)
        var lines = LineSplitter(path: path)
        if readAhead, Processors.usable > 1, source.compressedBytes >= ReadAhead.worthBytes, let ahead = ReadAhead.start(source) {
            try ahead.forEach { chunk in try lines.handle(chunk, body) }
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

    /// Runs `body` for line `line` of the shard at `path`: an error in the line's content (invalid
    /// JSON, a ``RecordError``) becomes one naming the file and line. Every reader of records goes
    /// through here, so the same problem is reported the same way however the line was read.
    @inline(__always)
    static func atLine<R>(_ line: Int, of path: String, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let e as JSONSyntaxError {
            throw ValenceError.badData(path: path, line: line, detail: "invalid JSON at \(e)")
        } catch let e as RecordError {
            throw ValenceError.badData(path: path, line: line, detail: e.message)
        }
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
    /// The chunk filled into this slot, while it is handed over (``ReadAhead``).
    var chunk: LineChunk?

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
///
/// A frame whose header gives its content size (every frame ``ShardWriter`` writes) and that fits
/// ``oneShotLimit`` is decompressed in one call straight into the chunk slot: zstd's streaming API
/// decodes into its own window buffer and copies out of it (~270 instructions per record). Any
/// other frame (unknown size, as `zstd` writes from a pipe and older Valence shards as one streamed
/// frame; skippable; larger; or one that is not complete in the file) goes through the streaming
/// decoder, which also produces the errors for damaged input. Either way, memory stays bounded by
/// the frame limit and the longest line, not the file size.
final class LineChunks: @unchecked Sendable {
    let path: String
    private let fd: Int32
    /// Taken from `contexts` for this file, handed back by deinit.
    private let dctx: OpaquePointer
    private let contexts: ZstdContextPool
    private let wantsDigest: Bool
    private(set) var digest = Digest()
    /// Compressed bytes read from the file; `buffer[start..<end]` are not decompressed yet.
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var start = 0
    private var end = 0
    private let outSize = ZSTD_DStreamOutSize()
    /// The partial line that ended the previous chunk.
    private var tail: [UInt8] = []
    private var sawInput = false
    private var atEOF = false
    /// The streaming decoder's last result: 0 at a frame boundary (and before the first frame).
    private var lastResult = 0
    /// Frames decompressed in one call (the tests check which path a file takes).
    private(set) var framesInOneCall = 0

    /// The largest frame content decompressed in one call (8 x what ``ShardWriter`` writes, so
    /// frames of other writers with a larger frame size also take the fast path).
    static let oneShotLimit = 8 << 20

    /// The decompression context comes from `contexts` (``ZstdContextPool``: reused across files).
    /// The file's size when opened (Int.max when unknown).
    let compressedBytes: Int

    init(path: String, digest: Bool, contexts: ZstdContextPool = .shared) throws {
        self.path = path
        wantsDigest = digest
        let fd = try FileSystem.openForReading(path, missing: "no such shard")
        guard let dctx = contexts.takeDecompressor() else {
            close(fd)
            throw ValenceError.io(path: path, detail: "zstd could not allocate a decompression context")
        }
        self.fd = fd
        self.dctx = dctx
        self.contexts = contexts
        var st = stat()
        compressedBytes = fstat(fd, &st) == 0 ? Int(st.st_size) : Int.max
        capacity = ZSTD_DStreamInSize()
        buffer = .allocate(capacity: capacity)
    }

    deinit {
        buffer.deallocate()
        contexts.recycle(decompressor: dctx)
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
            let produced: Int
            if lastResult == 0, let n = try decompressWholeFrame(into: slot, at: filled) {
                produced = n
            } else {
                if start == end {
                    if atEOF { break }
                    start = 0
                    end = 0
                    try readMore()
                    continue
                }
                if filled > ShardReader.maxLineBytes { throw .lineTooLong }
                // A frame starts afresh (also after frames decompressed in one call).
                if lastResult == 0 { ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only) }
                slot.reserve(used: filled, count: outSize)
                var out = ZSTD_outBuffer(dst: slot.base + filled, size: slot.capacity - filled, pos: 0)
                var input = ZSTD_inBuffer(src: buffer + start, size: end - start, pos: 0)
                let r = ZSTD_decompressStream(dctx, &out, &input)
                if ZSTD_isError(r) != 0 { throw .notZstd(String(cString: ZSTD_getErrorName(r))) }
                start += input.pos
                lastResult = r
                produced = out.pos
            }
            guard produced > 0 else { continue }
            let first = filled
            filled += produced
            // The chunk ends after the last newline of what was just decompressed.
            var cut = filled
            while cut > first && slot.base[cut - 1] != 0x0A { cut -= 1 }
            if cut > first {
                tail = Array(UnsafeBufferPointer(start: slot.base + cut, count: filled - cut))
                return LineChunk(bytes: UnsafeBufferPointer(start: slot.base, count: cut), isLast: false, problem: nil)
            }
        }
        if !sawInput { throw .empty }
        if lastResult != 0 { throw .truncated }
        tail = []
        return LineChunk(bytes: UnsafeBufferPointer(start: slot.base, count: filled), isLast: true, problem: nil)
    }

    /// At a frame boundary: decompresses the next frame in one call into `slot` after its first
    /// `used` bytes and returns how many bytes it produced; nil when the frame must be streamed
    /// (see the type's comment) or the file has ended.
    private func decompressWholeFrame(into slot: ChunkSlot, at used: Int) throws(ShardProblem) -> Int? {
        // A frame header is at most 18 bytes.
        if end - start < 18 { try readMore(atLeast: 18) }
        guard end - start >= 4 else { return nil }
        let magic = UInt32(buffer[start]) | UInt32(buffer[start + 1]) << 8 | UInt32(buffer[start + 2]) << 16 | UInt32(buffer[start + 3]) << 24
        guard magic == UInt32(ZSTD_MAGICNUMBER) else { return nil }
        // Also rules out ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR, the largest values.
        let contentSize = ZSTD_getFrameContentSize(buffer + start, end - start)
        guard contentSize <= UInt64(LineChunks.oneShotLimit) else { return nil }
        let size = Int(contentSize)
        // Read until the frame is complete, up to the most a valid frame of this size can take.
        let limit = ZSTD_compressBound(size) + 64
        var frameBytes = ZSTD_findFrameCompressedSize(buffer + start, end - start)
        while ZSTD_isError(frameBytes) != 0 {
            let have = end - start
            guard have < limit, !atEOF else { return nil }
            try readMore(atLeast: min(limit, max(2 * have, have + (1 << 16))))
            frameBytes = ZSTD_findFrameCompressedSize(buffer + start, end - start)
        }
        if used > ShardReader.maxLineBytes { throw .lineTooLong }
        slot.reserve(used: used, count: size)
        let r = ZSTD_decompressDCtx(dctx, slot.base + used, size, buffer + start, frameBytes)
        if ZSTD_isError(r) != 0 { throw .notZstd(String(cString: ZSTD_getErrorName(r))) }
        start += frameBytes
        framesInOneCall += 1
        return r
    }

    /// Reads more of the file after `buffer[start..<end]` until at least `count` bytes are
    /// unconsumed or the file has ended; moves the unconsumed bytes to the front, or grows the
    /// buffer, when they would not fit.
    private func readMore(atLeast count: Int = 1) throws(ShardProblem) {
        if capacity - start < count {
            let unconsumed = end - start
            if capacity < count {
                let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
                grown.update(from: buffer + start, count: unconsumed)
                buffer.deallocate()
                buffer = grown
                capacity = count
            } else {
                memmove(buffer, buffer + start, unconsumed)
            }
            start = 0
            end = unconsumed
        }
        while end - start < count && !atEOF {
            let got = read(fd, buffer + end, capacity - end)
            if got < 0 {
                if errno == EINTR { continue }
                throw .io("read failed: \(FileSystem.errnoText())")
            }
            if got == 0 {
                atEOF = true
                break
            }
            sawInput = true
            if wantsDigest { digest.update(UnsafeRawBufferPointer(start: buffer + end, count: got)) }
            end += got
        }
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
        try ShardReader.atLine(lineNumber, of: path) { try body(UnsafeBufferPointer(start: start, count: n), lineNumber) }
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
/// The filler takes a free slot, fills it (the chunk is kept in the slot, which only one thread
/// owns at a time) and publishes it; the consumer takes published slots in order and frees each
/// once its lines are handled. The filler is a thread of its own, joined before ``forEach(_:)``
/// returns, whether the file ended, a problem was found or the consumer's body threw (then it is
/// told to stop first): no thread outlives the call, and the file is closed by the caller.
final class ReadAhead: @unchecked Sendable {
    private static let slotCount = 3
    /// Below this many compressed bytes (about two frames) a shard is read on the calling thread:
    /// starting a thread cost more than it overlapped (a research-scale step's shards are 1-130 KB).
    static let worthBytes = 256 << 10
    private let source: LineChunks
    private let slots = (0..<ReadAhead.slotCount).map { _ in ChunkSlot() }
    /// Semaphores start at 0 and are signalled up in init: libdispatch traps when a semaphore is
    /// released with a value below the one it was created with.
    private let free = DispatchSemaphore(value: 0)
    private let published = DispatchSemaphore(value: 0)
    private let lock = DispatchSemaphore(value: 0)
    private var stopRequested = false
    private var filler: JoinableThread?

    private init(_ source: LineChunks) {
        self.source = source
        for _ in 0..<ReadAhead.slotCount { free.signal() }
        lock.signal()
    }

    /// Starts filling `source` on a new thread; nil when the system will not start one.
    static func start(_ source: LineChunks) -> ReadAhead? {
        let ahead = ReadAhead(source)
        guard let thread = JoinableThread({ ahead.fillAll() }) else { return nil }
        ahead.filler = thread
        return ahead
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
            slots[i].chunk = chunk
            published.signal()
            if chunk.isLast { break }
            i = (i + 1) % ReadAhead.slotCount
        }
    }

    func forEach(_ handle: (LineChunk) throws -> Void) throws {
        defer {
            lock.wait()
            stopRequested = true
            lock.signal()
            free.signal()
            filler?.join()
        }
        var i = 0
        while true {
            published.wait()
            guard let chunk = slots[i].chunk else { preconditionFailure("a published chunk slot is empty") }
            try handle(chunk)
            if chunk.isLast { return }
            slots[i].chunk = nil
            free.signal()
            i = (i + 1) % ReadAhead.slotCount
        }
    }
}

/// A POSIX thread running one closure, which must be joined: unlike a Dispatch work item it
/// neither waits for a pool thread (a caller on a busy pool would stall) nor outlives its caller.
final class JoinableThread {
    private var thread = pthread_t()
    private var joined = false

    /// Starts `body` on a new thread; nil when the system will not start one.
    init?(_ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ body: @escaping @Sendable () -> Void) { self.body = body } }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        let status = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
            box.body()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            joined = true  // deinit runs for a failed init too: there is no thread to join
            return nil
        }
    }

    func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    deinit { join() }
}
