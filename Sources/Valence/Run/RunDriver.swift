/// Advances a run in one process: the same stage parts, in the same order, writing the same bytes
/// as the separate `valence-*` executables run one after another (`valence-step`, `make run`,
/// `make step`, the sweep runner).
///
/// A step is generate, verify, split, weight (each over every shard, `jobs` at once), update and
/// eval; step 0 is the base policy's eval. Every part goes through ``StageEnvironment/run(_:)``, so
/// part locks, "up to date", resume after a kill and every bad-input error are the stages' own.
/// The driver adds the run lock (`RUN/.lock`): one driver per run at a time.
public struct RunDriver {
    public let env: StageEnvironment
    /// Shards processed at once within a sharded stage.
    public var jobs: Int

    public init(env: StageEnvironment, jobs: Int = 1) {
        self.env = env
        self.jobs = max(1, jobs)
    }

    /// Takes the run lock without waiting; nil when another driver or `make step` holds it.
    public func lockRun() throws -> FileLock? {
        try FileLock.acquireIfFree(env.layout.lock)
    }

    /// The next step to run: 0 when the base policy is not evaluated yet, nil when the run has
    /// evaluated its last step.
    ///
    /// - Complexity: O(1) file checks when `metrics.jsonl` ends with the last evaluated step (the
    ///   usual case); otherwise one listing of `RUN/steps`.
    public func nextStep() -> Int? {
        let next = lastEvaluatedStep().map { $0 + 1 } ?? 0
        return next > env.config.steps ? nil : next
    }

    /// The highest step whose eval manifest exists. The step of `metrics.jsonl`'s last line is taken
    /// when its eval manifest exists and the next one's does not, and no step directory beyond that
    /// exists (an eval of a later step needs the checkpoints of every step before it); anything else
    /// (a hand-run eval, an edited log) lists `RUN/steps` as `valence-status` does.
    public func lastEvaluatedStep() -> Int? {
        let layout = env.layout
        func evaluated(_ s: Int) -> Bool { FileSystem.exists(layout.path(RunLayout.evalManifest(s))) }
        if let hint = MetricsLog(layout: layout).lastStep(), evaluated(hint), !evaluated(hint + 1),
           !FileSystem.exists(layout.path(RunLayout.stepDirectory(hint + 2))) {
            return hint
        }
        return layout.lastEvaluatedStep()
    }

    /// Runs every stage of step `step` (for step 0: the base policy's eval).
    public func run(step: Int) throws {
        if step == 0 {
            try env.run(EvalStage(step: 0))
            return
        }
        let shards = try env.shardList(nil)
        let env = env
        // Through each stage's static run: it hands an expected-mode run (docs/mechanism.md) to its
        // expected part.
        try env.forEachShard(shards, jobs: jobs) { try GenerateStage.run(env, step: step, shard: $0) }
        try env.forEachShard(shards, jobs: jobs) { try VerifyStage.run(env, step: step, shard: $0) }
        try env.forEachShard(shards, jobs: jobs) { try SplitStage.run(env, step: step, shard: $0) }
        try env.forEachShard(shards, jobs: jobs) { try WeightStage.run(env, step: step, shard: $0) }
        try UpdateStage.run(env, step: step)
        try env.run(EvalStage(step: step))
    }

    /// What ``advance(allSteps:progress:)`` did.
    public enum Outcome: Equatable, Sendable {
        /// Ran steps `first...last` (the base eval counts as step 0).
        case stepped(first: Int, last: Int)
        /// The run had already evaluated its last step.
        case complete
    }

    /// Advances the run: by one step (as cron's `make step` does; a run whose base is not yet
    /// evaluated also takes step 1 in the same call), or to its last step. The caller holds the
    /// run lock. `progress` hears each finished step.
    @discardableResult
    public func advance(allSteps: Bool, progress: (Int) -> Void = { _ in }) throws -> Outcome {
        let next = nextStep()
        try makeDurable(through: (next ?? env.config.steps + 1) - 1)
        guard var next else { return .complete }
        let first = next
        var barrier = Barrier()
        if next == 0 {
            try run(step: 0)
            try barrier.passed(step: 0, self)
            progress(0)
            next = 1
        }
        while next <= env.config.steps && (allSteps || next == 1 || next == first) {
            try run(step: next)
            try barrier.passed(step: next, self)
            progress(next)
            next += 1
        }
        try barrier.finish(self)
        return .stepped(first: first, last: next - 1)
    }

    /// Under ``Durability/stepBarrier``: a `syncfs` at most once a second while steps run (group
    /// commit: a fast run does not wait on the disk after every step) and always at the end, each
    /// recorded in `RUN/.synced`.
    struct Barrier {
        static let interval = 1.0
        var last = ProgressLine.monotonicSeconds()
        var pending: Int?

        mutating func passed(step: Int, _ driver: RunDriver) throws {
            guard Durability.current == .stepBarrier else { return }
            pending = step
            if ProgressLine.monotonicSeconds() - last >= Self.interval { try finish(driver) }
        }

        mutating func finish(_ driver: RunDriver) throws {
            guard let step = pending else { return }
            try Durability.barrier(driver.env.layout.root)
            try SyncedMarker(layout: driver.env.layout).write(step)
            pending = nil
            last = ProgressLine.monotonicSeconds()
        }
    }

    /// Under ``Durability/stepBarrier``, before new work: the completed steps after the last one a
    /// barrier recorded (a process stopped before its barrier, or a run taken so far by the stage
    /// executables) may not all have reached the disk. Runs their parts again in order (each one
    /// rewrites only what no longer matches its manifest's digests; normally all are up to date), then
    /// syncs.
    func makeDurable(through last: Int) throws {
        guard Durability.current == .stepBarrier, last >= 0 else { return }
        let synced = SyncedMarker(layout: env.layout).read() ?? -1
        guard synced < last else { return }
        for step in max(0, synced + 1)...last { try run(step: step) }
        var barrier = Barrier()
        barrier.pending = last
        try barrier.finish(self)
    }
}
