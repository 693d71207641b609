import Dispatch

/// Parsed copies of the files several stage parts read again and again (the task's prompt sets, the
/// policy and optimizer checkpoints), keyed by path and the file's content digest.
///
/// In one process (`valence-step`, the sweep) the prompt sets are parsed once per run instead of
/// three times per step, and the checkpoint update writes is handed to the eval, generate and update
/// that read it next without being parsed again. A hit needs the file's current bytes to have the
/// same digest as when the value was parsed or written (the FNV-1a digest manifests use), so an edited
/// or replaced file is parsed again, exactly as a separate stage process would parse it: the cache
/// changes no output and no error. It holds the ``capacity`` values used most recently.
///
/// A value can also be recorded for a file this process is still writing (``insert(_:path:variant:writing:)``):
/// while that write runs, nothing else writes the file (its part lock is held), so the value is what
/// the file will hold and is handed out without waiting for the write; afterwards the write's digest
/// is checked as any other.
///
/// - Complexity: a lookup digests the file (one `stat` when ``DigestCache`` knows this version of it,
///   else one read: for a policy ~40 KB of compressed bytes, about 1% of parsing it).
public final class ParsedFiles: @unchecked Sendable {
    struct Entry {
        var path: String
        var variant: String
        /// nil while `write` runs.
        var digest: UInt64?
        /// The job writing the file the value was recorded for, until its digest is taken.
        var write: BackgroundJob<ShardSummary>?
        var value: Any

        /// Set when `write` failed: the value belongs to no file and is dropped.
        var failed = false

        /// The content digest the value belongs to; nil while the file is still being written (or
        /// when its write failed).
        mutating func settledDigest() -> UInt64? {
            if let digest { return digest }
            guard let write, write.isFinished else { return nil }
            self.write = nil
            if let summary = try? write.wait() { digest = summary.digest } else { failed = true }
            return digest
        }

        /// Whether the value is that of a file still being written.
        mutating func isBeingWritten() -> Bool { settledDigest() == nil && !failed }
    }

    let capacity: Int
    private var entries: [Entry] = []
    private let lock = DispatchSemaphore(value: 1)

    public init(capacity: Int = 32) { self.capacity = capacity }

    /// The value parsed from `path` (`variant` tells apart different readings of one file), from the
    /// cache when the file's bytes are those it was made from, else from `parse`.
    public func value<T>(_ path: String, variant: String = "", parse: () throws -> T) throws -> T {
        // A value recorded for a write still running is the file's next content (one whose write
        // has finished takes that write's digest here, and is judged by it below; one whose write
        // failed is dropped).
        if let value = locked({ () -> T? in
            guard let i = entries.firstIndex(where: { $0.path == path && $0.variant == variant }) else { return nil }
            if !entries[i].isBeingWritten() {
                if entries[i].failed { entries.remove(at: i) }
                return nil
            }
            guard let value = entries[i].value as? T else { return nil }
            entries.append(entries.remove(at: i))
            return value
        }) {
            return value
        }
        let digest = try Digest.ofFile(path).value
        if let value = locked({ () -> T? in
            // Least recently used goes first: a hit moves to the end.
            guard let i = entries.firstIndex(where: { $0.path == path && $0.variant == variant && $0.digest == digest }),
                  let value = entries[i].value as? T else { return nil }
            entries.append(entries.remove(at: i))
            return value
        }) {
            return value
        }
        let value = try parse()
        insert(value, path: path, variant: variant, digest: digest)
        return value
    }

    /// Records `value` as what `path` holds when its bytes have `digest` (a file just written).
    public func insert<T>(_ value: T, path: String, variant: String = "", digest: UInt64) {
        add(Entry(path: path, variant: variant, digest: digest, write: nil, value: value))
    }

    /// Records `value` as what `path` will hold once `write` has written it.
    public func insert<T>(_ value: T, path: String, variant: String = "", writing write: BackgroundJob<ShardSummary>) {
        add(Entry(path: path, variant: variant, digest: nil, write: write, value: value))
    }

    /// Records `value` as what `path` holds as `written` describes it: written (its digest), or
    /// handed to a write-behind queue (the queue's job, while it is still to be written).
    func insert<T>(_ value: T, path: String, variant: String = "", written: ShardSummary) {
        guard written.isHandedOff else { return insert(value, path: path, variant: variant, digest: written.digest) }
        if let write = WrittenShards.shared.pendingWrite(of: path) {
            insert(value, path: path, variant: variant, writing: write)
        } else if WrittenShards.shared.text(of: path) != nil, let digest = try? Digest.ofFile(path).value {
            insert(value, path: path, variant: variant, digest: digest)  // already written
        }
        // Else the write failed: nothing is recorded, and a reader parses the file there is.
    }

    private func add(_ entry: Entry) {
        locked {
            entries.removeAll { $0.path == entry.path && $0.variant == entry.variant }
            entries.append(entry)
            // The oldest go first; a value for a write still running stays (it is what readers of
            // that file get until the file is there).
            var excess = entries.count - capacity
            if excess > 0 {
                entries.removeAll { e in
                    guard excess > 0, e.digest != nil || e.failed || e.write?.isFinished == true else { return false }
                    excess -= 1
                    return true
                }
            }
        }
    }

    private func locked<R>(_ body: () -> R) -> R {
        lock.wait()
        defer { lock.signal() }
        return body()
    }
}

extension StageEnvironment {
    /// The policy checkpoint at `relative` (through ``ParsedFiles``).
    func policy(_ relative: String, space: ContextSpace) throws -> TabularPolicy {
        let path = layout.path(relative)
        return try files.value(path) { try TabularPolicy.read(from: path, space: space).policy }
    }

    /// The optimizer state at `relative` (through ``ParsedFiles``).
    func optimizerState(_ relative: String, space: ContextSpace) throws -> OptimizerState {
        let path = layout.path(relative)
        return try files.value(path, variant: config.optimizer.rawValue) {
            try OptimizerState.read(from: path, kind: config.optimizer, space: space).state
        }
    }
}
