import Dispatch

/// Manifests whose last outputs are still being written on other threads, in an in-process run
/// (``RunDriver``): update hands its optimizer state, the step's largest table, to a job, and the
/// next step's generate starts while it is written (docs/performance.md).
///
/// The rule "a manifest is written after every output it lists" still holds: the job writes the
/// manifest when its outputs are complete, and keeps the part lock until then. A reader that needs
/// the manifest waits for the job (``StageEnvironment/requireManifest(_:from:step:pending:)``);
/// only a reader that needs no more than to know the part is done and which run and step it
/// belongs to (generate, of the previous checkpoint) takes it as pending. Stage executables never
/// defer: ``enabled`` is false unless a driver turns it on.
public final class DeferredManifests: @unchecked Sendable {
    struct Entry {
        var provisional: Manifest
        /// Whether `provisional` already lists every output by path and record count (their sizes
        /// and digests, and the input digest, may still be 0: a write-behind part's).
        var listsEveryOutput: Bool
        var job: BackgroundJob<Manifest>
    }

    private var isEnabled = false
    private var entries: [String: Entry] = [:]
    /// Paths in the order their jobs started, for ``waitAll()``.
    private var order: [String] = []
    private let lock = DispatchSemaphore(value: 1)

    public init() {}

    /// Whether parts may defer their manifests (set by ``RunDriver`` before it runs a part).
    public var enabled: Bool {
        get { locked { isEnabled } }
        set { locked { isEnabled = newValue } }
    }

    /// Records the job writing the manifest at `relative`; `provisional` is that manifest without
    /// the outputs still being written.
    func add(_ relative: String, provisional: Manifest, listsEveryOutput: Bool = false, job: BackgroundJob<Manifest>) {
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
