import Dispatch

/// Manifests the write-behind queue (``WriteBehind``) has still to write, in an in-process run
/// (``RunDriver``), with what readers in the process take them as meanwhile.
///
/// The rule "a manifest is written after every output it lists" still holds: the queue writes the
/// manifest after the part's outputs (update's optimizer state, written on a thread of its own, is
/// waited for there), and keeps the part lock until then. A manifest that lists every output by
/// path and record count is taken as it will be (``Entry/listsEveryOutput``); update's is waited
/// for (``StageEnvironment/requireManifest(_:from:step:pending:)``) unless the reader needs no
/// more than to know the part is done (`pending`). Stage executables defer nothing: only the
/// skeleton's write-behind path adds entries.
public final class DeferredManifests: @unchecked Sendable {
    struct Entry {
        var provisional: Manifest
        /// Whether `provisional` already lists every output by path and record count (their sizes
        /// and digests, and the input digest, may still be 0: a write-behind part's).
        var listsEveryOutput: Bool
        var job: BackgroundJob<Manifest>
    }

    private var entries: [String: Entry] = [:]
    /// Paths in the order their jobs started, for ``waitAll()``.
    private var order: [String] = []
    private let lock = DispatchSemaphore(value: 1)

    public init() {}

    /// Records the job writing the manifest at `relative`; `provisional` is that manifest without
    /// the outputs still being written.
    func add(_ relative: String, provisional: Manifest, listsEveryOutput: Bool, job: BackgroundJob<Manifest>) {
        locked {
            // Jobs that ended well are forgotten; a failed one stays until waitAll reports it.
            order.removeAll { path in
                guard let entry = entries[path], entry.job.isFinished, (try? entry.job.wait()) != nil else { return false }
                entries[path] = nil
                return true
            }
            if entries.updateValue(Entry(provisional: provisional, listsEveryOutput: listsEveryOutput, job: job), forKey: relative) == nil { order.append(relative) }
        }
    }

    func entry(_ relative: String) -> Entry? { locked { entries[relative] } }

    /// Waits for every job; throws the error of the first that failed (in the order they started).
    public func waitAll() throws {
        let jobs = locked { order.compactMap { entries[$0]?.job } }
        var first: Error?
        for job in jobs {
            do { _ = try job.wait() } catch { if first == nil { first = error } }
        }
        locked {
            entries.removeAll()
            order.removeAll()
        }
        if let first { throw first }
    }

    private func locked<R>(_ body: () -> R) -> R {
        lock.wait()
        defer { lock.signal() }
        return body()
    }
}
