import Dispatch

/// Work started on another thread now and waited for later: what lets an in-process step use a
/// second core (an eval beside the next step's stages, the optimizer state beside the policy).
///
/// The job's result or error is handed over through a dispatch group, so everything the job wrote
/// is visible to every thread that waited. Any number of threads may wait, any number of times; a
/// job nobody waits for still runs to its end.
public final class BackgroundJob<Value>: @unchecked Sendable {
    private let group = DispatchGroup()
    /// Written by the job's thread before it leaves ``group``; read only after waiting.
    private var result: Result<Value, Error>?

    /// Starts `body` on `queue` (by default any free thread; a serial queue runs its jobs one after
    /// another, in the order they were started).
    public init(on queue: DispatchQueue = .global(qos: .userInitiated), _ body: @escaping @Sendable () throws -> Value) {
        group.enter()
        queue.async { [self] in
            result = Result { try body() }
            group.leave()
        }
    }

    /// Blocks until the job has finished: its value, or its error rethrown.
    public func wait() throws -> Value {
        group.wait()
        return try (result ?? .failure(ValenceError.io(path: "", detail: "a background job ended without a result"))).get()
    }

    /// Whether the job has finished (without waiting).
    public var isFinished: Bool { group.wait(timeout: .now()) == .success }
}
