import Dispatch

/// The file writes an in-process run's step thread hands off: done one after another, in the order
/// they were handed over, on a thread of their own (docs/performance.md, "write-behind").
///
/// In `valence-step`, `make run` and the sweep, a stage part hands its one-frame shards (their
/// compression, done on a second thread beside the writer's, and their writing: temporary file,
/// write, rename) and then its manifest to this queue; the next part reads what it needs from
/// memory (``WrittenShards``) and starts at once. On a 2-core machine the step thread and the
/// writes then use both cores.
///
/// What the queue keeps from writing in place, one part after another:
/// - Order: writes happen in the order they were handed over, so a part's manifest is still
///   written after its outputs, and after the manifests of the parts handed over before it (an eval
///   runs beside the next two steps' parts, so its manifest may come after some of their shards).
/// - Nothing after a failure: once a write fails (a full disk), every write handed over later is
///   skipped and fails with that error, and ``check()`` throws it on the step thread before the
///   next part starts; the run reports the first write that failed in the queue's order.
/// - Nothing left half-done: the driver waits for the queue (``drain()``) before it returns, and
///   before each step barrier's `syncfs`.
///
/// Stage executables never hand writes off: ``isOn`` is false unless a driver turns it on.
public final class WriteBehind: @unchecked Sendable {
    private let queue = DispatchQueue(label: "valence.write-behind", qos: .userInitiated)
    /// Compresses handed-over shards ahead of their writes, one after another (``compress(_:level:path:)``).
    private let compressor = DispatchQueue(label: "valence.write-behind.zstd", qos: .userInitiated)
    /// Used on `compressor` only.
    private let scratch = CompressedFrame.Scratch()
    private var on = false
    private var failure: Error?
    /// The jobs writing shards handed over, by absolute path, until their part's manifest takes
    /// their size and digest (``resolve(_:in:)``).
    private var shards: [String: BackgroundJob<ShardSummary>] = [:]
    private let lock = DispatchSemaphore(value: 1)

    public init() {}

    /// Whether parts hand their writes to this queue (set by ``RunDriver``).
    public var isOn: Bool {
        get { locked { on } }
        set { locked { on = newValue } }
    }

    /// Runs `write` after every write handed over before it. When one of those failed, `skipped`
    /// runs instead and the job fails with the first failure.
    public func submit<T>(_ write: @escaping @Sendable () throws -> T,
                          skipped: @escaping @Sendable () -> Void = {}) -> BackgroundJob<T> {
        BackgroundJob(on: queue) { [self] in
            if let earlier = locked({ failure }) {
                skipped()
                throw earlier
            }
            do {
                return try write()
            } catch {
                locked { if failure == nil { failure = error } }
                throw error
            }
        }
    }

    /// Hands over the writing of the shard at `path` (absolute), whose size and digest only `write`
    /// learns: ``resolve(_:in:)`` gives them to the manifest that lists it.
    func submit(_ path: String, _ write: @escaping @Sendable () throws -> ShardSummary,
                skipped: @escaping @Sendable () -> Void) -> BackgroundJob<ShardSummary> {
        let job = submit(write, skipped: skipped)
        locked { shards[path] = job }
        return job
    }

    /// Starts compressing `text` (a one-frame shard's records) on a thread beside the writer's, so
    /// that zstd for the next shards runs while the writer thread does the file system's part for
    /// the ones before. Compressing is never skipped after a failure (it writes nothing), and
    /// never waits for anything, so a write job may wait for it.
    func compress(_ text: WrittenShards.Text, level: Int32, path: String) -> BackgroundJob<CompressedFrame> {
        BackgroundJob(on: compressor) { [scratch] in
            try text.withBytes { try CompressedFrame.compress($0, level: level, path: path, scratch: scratch) }
        }
    }

    /// `output` with the size and digest its shard was written with, when the shard was handed to
    /// this queue (waiting for it: call it on the queue, after the shard's job); else `output`.
    func resolve(_ output: Manifest.Output, in layout: RunLayout) throws -> Manifest.Output {
        guard let job = locked({ shards.removeValue(forKey: layout.path(output.path)) }) else { return output }
        let written = try job.wait()
        var resolved = output
        (resolved.bytes, resolved.digest) = (written.bytes, written.digest)
        return resolved
    }

    /// Releases `lock` once every write handed over so far is done (or skipped).
    func release(_ lock: SendableLock) {
        _ = submit({ lock.release() }, skipped: { lock.release() })
    }

    /// Throws the first failed write, if one has failed.
    public func check() throws {
        if let earlier = locked({ failure }) { throw earlier }
    }

    /// A job that finishes once every write handed over so far has (failing with the first failure).
    public func mark() -> BackgroundJob<Void> { submit {} }

    /// Waits for every write handed over so far; throws the first that failed.
    public func drain() throws { try mark().wait() }

    private func locked<R>(_ body: () -> R) -> R {
        lock.wait()
        defer { lock.signal() }
        return body()
    }
}
