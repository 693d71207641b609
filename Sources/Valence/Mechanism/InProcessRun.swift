import Dispatch

/// Advances initialised runs to their last step inside one process, stage by stage as `make step`
/// would (each stage skips what is up to date, so a rerun resumes). A stopgap for the mechanism grid
/// until the project's in-process step runner lands; the stages and their files are the same.
public enum InProcessRun {
    /// Every remaining step of the run at `path`: eval of step 0, then per step generate, verify,
    /// split, weight (every shard), update and eval.
    public static func complete(_ path: String, log: (@Sendable (String) -> Void)? = nil) throws {
        let env = try StageEnvironment(run: path, log: log)
        let shards = Array(0..<env.config.shards)
        try EvalStage.run(env, step: 0)
        guard env.config.steps >= 1 else { return }
        for step in 1...env.config.steps {
            for s in shards { try GenerateStage.run(env, step: step, shard: s) }
            for s in shards { try VerifyStage.run(env, step: step, shard: s) }
            for s in shards { try SplitStage.run(env, step: step, shard: s) }
            for s in shards { try WeightStage.run(env, step: step, shard: s) }
            try UpdateStage.run(env, step: step)
            try EvalStage.run(env, step: step)
        }
    }

    /// Completes `paths`, `jobs` at a time; returns the errors by run (empty when all finished).
    public static func completeAll(_ paths: [String], jobs: Int, progress: @escaping @Sendable (Int, String, Error?) -> Void) -> [(String, Error)] {
        let errors = Failures()
        let queue = DispatchQueue(label: "valence.grid", attributes: .concurrent)
        let group = DispatchGroup()
        let semaphore = DispatchSemaphore(value: max(1, jobs))
        for (i, path) in paths.enumerated() {
            semaphore.wait()
            queue.async(group: group) {
                defer { semaphore.signal() }
                do {
                    try complete(path)
                    progress(i, path, nil)
                } catch {
                    errors.add(path, error)
                    progress(i, path, error)
                }
            }
        }
        group.wait()
        return errors.all
    }
}

/// The failed runs of ``InProcessRun/completeAll(_:jobs:progress:)``, collected across threads.
final class Failures: @unchecked Sendable {
    private var items: [(String, Error)] = []
    private let lock = DispatchSemaphore(value: 1)

    func add(_ path: String, _ error: Error) {
        lock.wait()
        items.append((path, error))
        lock.signal()
    }

    var all: [(String, Error)] {
        lock.wait()
        defer { lock.signal() }
        return items
    }
}
