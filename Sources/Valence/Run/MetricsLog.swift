#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `RUN/metrics.jsonl`: the lines of every evaluated step, in step order.
///
/// Each eval appends its step's lines, so the cost of a step does not grow with the run: it reads
/// only the file's last line (to learn which step it ends with) and appends. An append is not
/// atomic, so the next call repairs what a kill can leave:
/// - a partial last line (killed mid-append) is cut off before anything else happens;
/// - lines already there for this step (killed after the append, before eval's manifest) are
///   compared with the new ones and not written again: a line is never doubled.
/// Anything else (an earlier step evaluated again by hand, a step missing in between, a file
/// edited by a person) falls back to rebuilding the file from every evaluated step's own
/// `steps/N/eval/metrics.jsonl`, written atomically as before appends existed.
public struct MetricsLog {
    public let layout: RunLayout

    public init(layout: RunLayout) { self.layout = layout }

    /// Makes the log hold `lines` (complete lines) as step `step`'s entry, after every earlier
    /// evaluated step. A rebuild counts a step as evaluated when its eval manifest exists, and
    /// `step` too (its manifest is written after this call).
    ///
    /// - Complexity: O(size of the last line + `lines`) when appending in order; O(run) on the
    ///   fallback rebuild.
    public func record(step: Int, lines: [UInt8]) throws {
        // Evals of different steps may finish at once; one changes the file at a time.
        let lock = try FileLock.acquire(layout.path(RunLayout.metricsLock)) {}
        defer { lock.release() }
        let path = layout.metrics
        // A rebuild killed before its rename leaves its temporary file; under the lock nobody else
        // is writing it, and appends never use it.
        FileSystem.remove(FileSystem.temporaryName(for: path))
        guard FileSystem.exists(path) else {
            if step == 0 { try FileSystem.writeAtomically(path, bytes: lines) } else { try rebuild(pending: step) }
            return
        }
        let file = try AppendFile(path: path)
        defer { file.close() }
        guard let end = try file.repairLastLine() else { return try rebuild(pending: step) }
        let last = end.isEmpty ? nil : Self.step(ofLine: end)
        if (end.isEmpty && step == 0) || (last != nil && last == step - 1) {
            try file.append(lines)
        } else if last == step, try file.endsWith(lines) {
            // Killed after the append and before the manifest: the same lines are already there.
            return
        } else {
            try rebuild(pending: step)
        }
    }

    /// Rewrites the log from every evaluated step (and `pending`, whose manifest is not yet written).
    public func rebuild(pending: Int? = nil) throws {
        var bytes: [UInt8] = []
        let names = (try? FileSystem.list(layout.path("steps"))) ?? []
        for name in names {
            guard let step = Int(name),
                  step == pending || FileSystem.exists(layout.path(RunLayout.evalManifest(step))) else { continue }
            bytes += try FileSystem.readFile(layout.path(RunLayout.evalMetrics(step)))
        }
        if (try? FileSystem.readFile(layout.metrics)) != bytes {
            try FileSystem.writeAtomically(layout.metrics, bytes: bytes)
        }
    }

    /// The step the log's last complete line belongs to, without repairing anything; nil when the
    /// log is missing, empty or does not end in a metrics line.
    public func lastStep() -> Int? {
        guard let file = try? AppendFile(path: layout.metrics, writable: false) else { return nil }
        defer { file.close() }
        guard let tail = try? file.tail(64 << 10), tail.last == 10 else { return nil }
        let body = tail.dropLast()
        let start = body.lastIndex(of: 10).map { $0 + 1 } ?? body.startIndex
        return Self.step(ofLine: body[start...])
    }

    /// The `"step":N` of a metrics line, nil when it has none.
    static func step(ofLine line: ArraySlice<UInt8>) -> Int? {
        let key = Array("\"step\":".utf8)
        guard line.count >= key.count else { return nil }
        var i = line.startIndex
        while i + key.count <= line.endIndex {
            if line[i..<(i + key.count)].elementsEqual(key) {
                var j = i + key.count
                var value = 0, digits = 0
                while j < line.endIndex, line[j] >= 48, line[j] <= 57, digits < 12 {
                    value = value * 10 + Int(line[j] - 48)
                    j += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            i += 1
        }
        return nil
    }
}

/// The log file opened for reading its end and appending (positioned writes, fsync after each
/// unless the driver syncs whole steps, ``Durability``).
private final class AppendFile {
    let path: String
    /// Owns the descriptor (closing it); appends go through its whole-buffer writes (`O_APPEND`).
    private let file: OutputFile
    private var fd: Int32 { file.fd }
    private var size: Int

    init(path: String, writable: Bool = true) throws {
        self.path = path
        try Confinement.check(path)  // nothing through a link out of the run (docs/security.md)
        let fd = open(path, (writable ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw ValenceError.io(path: path, detail: "cannot open: \(FileSystem.errnoText())") }
        file = OutputFile(descriptor: fd, path: path)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ValenceError.io(path: path, detail: "cannot stat: \(FileSystem.errnoText())") }
        size = Int(st.st_size)
    }

    /// Reads the last `count` bytes (fewer when the file is shorter).
    func tail(_ count: Int) throws -> [UInt8] {
        let n = min(count, size)
        var buffer = [UInt8](repeating: 0, count: n)
        var done = 0
        while done < n {
            let r = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, n - done, off_t(size - n + done)) }
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { throw ValenceError.io(path: path, detail: "read failed: \(FileSystem.errnoText())") }
            done += r
        }
        return buffer
    }

    /// Cuts a partial last line off and returns the last complete line (empty for an empty file);
    /// nil when no line ends within the last 1 MiB (not a metrics log: the caller rebuilds it).
    /// Reads a fixed 64 KiB of the end, so the cost does not grow with the run.
    func repairLastLine() throws -> ArraySlice<UInt8>? {
        if size == 0 { return [] }
        // A metrics line is about 1-2 KiB: 64 KiB of the end holds the last one whole (and a partial
        // one after it) whatever the length of the run; only when it does not (fewer than two line
        // ends there) is the end read further back, up to 1 MiB.
        var end = try tail(64 << 10)
        if end.count < size && end.lazy.filter({ $0 == 10 }).prefix(2).count < 2 { end = try tail(1 << 20) }
        guard let lastNewline = end.lastIndex(of: 10) else {
            if end.count == size { try truncate(to: 0); return [] }
            return nil
        }
        if lastNewline != end.count - 1 {
            try truncate(to: size - (end.count - 1 - lastNewline))
        }
        let start = end[..<lastNewline].lastIndex(of: 10).map { $0 + 1 } ?? 0
        if start == 0 && end.count < size { return nil }
        return end[start..<lastNewline]
    }

    func endsWith(_ bytes: [UInt8]) throws -> Bool {
        guard size >= bytes.count else { return false }
        return try tail(bytes.count) == bytes
    }

    func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0, !Durability.syncsEachFile || fsync(fd) == 0 else {
            throw ValenceError.io(path: path, detail: "cannot cut a partial line off: \(FileSystem.errnoText())")
        }
        size = length
    }

    func append(_ bytes: [UInt8]) throws {
        try file.write(bytes)
        if Durability.syncsEachFile { try file.sync() }
        size += bytes.count
    }

    func close() {
        try? file.close()
    }
}
