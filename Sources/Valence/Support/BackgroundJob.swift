import Dispatch

/// Work started on another thread now and waited for later: what lets an in-process step use a
/// second core (an eval beside the next step's stages, the optimizer state beside the policy).
///
/// The job's result or error is handed over through a semaphore, so everything the job wrote is
/// visible to the thread that waited. Wait exactly once; a job not waited for still runs to its end.
public final class BackgroundJob<Value>: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    /// Written by the job's thread before it signals ``finished``; read only after ``wait()``.
    private var result: Result<Value, Error>?

    public init(_ body: @escaping @Sendable () throws -> Value) {
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            result = Result { try body() }
            finished.signal()
        }
    }

    /// Blocks until the job has finished: its value, or its error rethrown.
    public func wait() throws -> Value {
        finished.wait()
        return try (result ?? .failure(ValenceError.io(path: "", detail: "a background job ended without a result"))).get()
    }
}
