import Dispatch
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
    /// How this driver makes its writes durable: a driver process sets ``Durability/current`` to
    /// ``Durability/stepBarrier`` before it starts (tests pass it here instead).
    public var durability: Durability
    /// The boot this process runs in (``BootIdentity``), as the durability record names it.
    public var boot: String?
    /// How it syncs under ``Durability/stepBarrier``.
    public var syncing = Syncing()

    /// When and how a driver syncs (tests shorten the times and inject failures).
    public struct Syncing: Sendable {
        /// Group commit: a `syncfs` at most this often (seconds) while steps run.
        public var interval = 1.0
        /// Background `syncfs` calls start once a call has run this long (seconds), one at most
        /// every ``flushInterval``.
        public var flushAfter = 0.5
        public var flushInterval = 0.05
        /// The `syncfs` of the file system holding a path.
        public var syncFileSystem: @Sendable (String) throws -> Void = { try Durability.barrier($0) }
        /// Where a failed `syncfs` is noted for every driver sharing it.
        public var failures = SyncFailures.process

        public init() {}
    }

    public init(env: StageEnvironment, jobs: Int = 1, durability: Durability = Durability.current,
                boot: String? = BootIdentity.current) {
        self.env = env
        self.jobs = max(1, jobs)
        self.durability = durability
        self.boot = boot
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
        try train(step: step)
        try env.writes.drain()  // eval's plan looks for the step's files on disk
        try env.run(EvalStage(step: step))
    }

    /// The stages of step `step` before its eval: generate, verify, split, weight, update (none for
    /// step 0).
    func train(step: Int) throws {
        guard step > 0 else { return }
        let shards = try env.shardList(nil)
        let env = env
        // Through each stage's static run: it hands an expected-mode run (docs/mechanism.md) to its
        // expected part.
        try env.forEachShard(shards, jobs: jobs) { try GenerateStage.run(env, step: step, shard: $0) }
        try env.forEachShard(shards, jobs: jobs) { try VerifyStage.run(env, step: step, shard: $0) }
        try env.forEachShard(shards, jobs: jobs) { try SplitStage.run(env, step: step, shard: $0) }
        try env.forEachShard(shards, jobs: jobs) { try WeightStage.run(env, step: step, shard: $0) }
        try UpdateStage.run(env, step: step)
    }

    /// How many steps' evals may still be running (or waiting for their step's writes) when the
    /// next step's stages start. With one, the step thread waited for step N-1's eval after step
    /// N's stages, and that eval for step N-1's writes; with two, a 60-step run kept both cores
    /// busier (0.246 s against 0.268 s, medians of 21 interleaved runs; three gave 0.250 s).
    static let evalsAhead = 2

    /// What ``advance(allSteps:progress:)`` did.
    public enum Outcome: Equatable, Sendable {
        /// Ran steps `first...last` (the base eval counts as step 0).
        case stepped(first: Int, last: Int)
        /// The run had already evaluated its last step.
        case complete
    }

    /// Advances the run: by one step (as cron's `make step` does; a run whose base is not yet
    /// evaluated also takes step 1 in the same call), or to its last step. The caller holds the
    /// run lock. `progress` hears each finished step, in order.
    ///
    /// The eval of step N runs on a thread of its own while steps N+1 and N+2's stages run on this
    /// one (``evalsAhead``): nothing before update reads an eval, and eval reads only what step N
    /// wrote (docs/performance.md). Every part still writes exactly its own files through the stage
    /// skeleton, and evals run one at a time in step order (one serial queue), so `metrics.jsonl`
    /// grows as before. A step counts as done (the barrier, `progress`) when its eval has finished,
    /// in step order. When several fail, the earliest step's error is the one thrown, as running
    /// them one after the other would have.
    @discardableResult
    public func advance(allSteps: Bool, progress: (Int) -> Void = { _ in }) throws -> Outcome {
        // Parts hand their files and manifests to one writer thread, the next part reading them from
        // memory (WriteBehind, WrittenShards); manifests not yet written are DeferredManifests, and
        // this call waits for all.
        env.writes.isOn = true
        let next = nextStep()
        var barrier = Barrier()
        do {
            try makeDurable(through: (next ?? env.config.steps + 1) - 1, barrier: &barrier)
            if next == nil { try barrier.finish(self) }  // nothing else to do: its sync is waited for
        } catch {
            barrier.stop(self)
            // Nothing left being written at exit; a write handed off before this error came first.
            defer { _ = try? env.deferred.waitAll(); _ = try? env.writes.drain() }
            try env.writes.drain()
            throw error
        }
        guard var next else { return .complete }
        let first = next
        // Evals run one after another, in step order, on a thread of their own.
        let evals = DispatchQueue(label: "valence.eval", qos: .userInitiated)
        var evaluating: [(step: Int, job: BackgroundJob<Manifest>)] = []
        /// Waits for the earliest eval still running, then counts its step as done.
        func settle() throws {
            guard !evaluating.isEmpty else { return }
            let running = evaluating.removeFirst()
            _ = try running.job.wait()
            try barrier.passed(step: running.step, self)
            progress(running.step)
        }
        func settleAll() throws {
            while !evaluating.isEmpty { try settle() }
        }
        do {
            while next <= env.config.steps && (allSteps || next <= 1 || next == first) {
                try train(step: next)
                if evaluating.count >= Self.evalsAhead { try settle() }
                // The eval starts once the step's writes are done: a failed one is its error, in
                // the place writing in place would have put it (before the eval's own). After a
                // failed eval the later ones do nothing (their step is not done either), so no
                // step is evaluated while one before it is not.
                let env = env, step = next, written = env.writes.mark(), previous = evaluating.last?.job
                evaluating.append((step, BackgroundJob(on: evals) {
                    _ = try previous?.wait()  // finished already: the queue is serial
                    try written.wait()
                    return try env.run(EvalStage(step: step))
                }))
                next += 1
            }
            try settleAll()
            try env.deferred.waitAll()
            try env.writes.drain()
        } catch {
            // Nothing is synced or recorded after an error (a failed syncfs must not be followed by
            // one that succeeds only because the kernel reports an error once).
            barrier.stop(self)
            // The eval still running belongs to an earlier step than what failed here: its outcome
            // (and error) comes first. Manifests still being written are waited for either way
            // (the earlier ones were waited for by their evals: what remains is later than this).
            defer {
                _ = try? env.deferred.waitAll()
                _ = try? env.writes.drain()
            }
            try settleAll()
            // A write handed off before this error failed: it came first.
            try env.writes.drain()
            throw error
        }
        try barrier.finish(self)
        return .stepped(first: first, last: next - 1)
    }

    /// Under ``Durability/stepBarrier``: a `syncfs` at most once a second while steps run (group
    /// commit: a run does not wait on the disk after every step), recorded in `RUN/.synced`
    /// (``DurabilityRecord``). The end of a call does not sync: ``makeDurable(through:barrier:)`` recorded
    /// this boot before the call wrote anything, and the next call syncs what it wrote. Where the
    /// boot has no id, the end of a call syncs as a barrier does.
    ///
    /// Once a call has run for half a second, a `syncfs` on another thread (after a step, every
    /// 50 ms at most, one at a time) starts the disk writing what the steps wrote so far (it records
    /// nothing): the next barrier, or the next call, then finds little left to write. A shorter
    /// call (a 60-step run takes 0.2 s) syncs nothing while it runs: the `syncfs` that ended every
    /// call was 12-17% of a 60-step run's wall time on ext4 (ABBA blocks of fresh runs,
    /// docs/performance.md).
    ///
    /// A failed `syncfs` (a write-back error, which the kernel reports once, to the first `syncfs`
    /// after it) is thrown, the record drops its boot, and nothing more is synced or recorded in the
    /// call, nor by any driver sharing ``Syncing/failures``.
    struct Barrier {
        let started = ProgressLine.monotonicSeconds()
        var last = ProgressLine.monotonicSeconds()
        var pending: Int?
        var flushed = ProgressLine.monotonicSeconds()
        var flushing: BackgroundJob<Void>?
        /// The step the running background `syncfs` makes durable, when it is the one
        /// ``makeDurable(through:barrier:)`` started for what earlier calls wrote (recorded once done).
        var flushCovers: Int?
        var stopped = false

        mutating func passed(step: Int, _ driver: RunDriver) throws {
            guard driver.durability == .stepBarrier, !stopped else { return }
            pending = step
            let now = ProgressLine.monotonicSeconds(), syncing = driver.syncing
            if now - last >= syncing.interval { return try sync(driver) }
            if now - started >= syncing.flushAfter, now - flushed >= syncing.flushInterval, flushing?.isFinished ?? true {
                try waitForFlush(driver)  // finished: its error, if it failed
                startFlush(driver, covering: nil)
                flushed = now
            }
        }

        /// Starts a `syncfs` on another thread; `covers`, when given, is recorded as synced once it
        /// has succeeded (``waitForFlush(_:)``). Call with no flush running.
        mutating func startFlush(_ driver: RunDriver, covering covers: Int?) {
            let root = driver.env.layout.root, syncFileSystem = driver.syncing.syncFileSystem
            flushing = BackgroundJob { try syncFileSystem(root) }
            flushCovers = covers
        }

        /// The end of a call: nothing to write (the record names this boot already), or a sync
        /// where there is no boot id.
        mutating func finish(_ driver: RunDriver) throws {
            guard driver.durability == .stepBarrier, !stopped else { return }
            try waitForFlush(driver)
            guard driver.boot != nil else { return try sync(driver) }
            try driver.checkNoFailedSync()
            pending = nil
        }

        /// Makes every step through the pending one durable and records it.
        mutating func sync(_ driver: RunDriver) throws {
            guard let step = pending else { return }
            try waitForFlush(driver)
            try driver.env.writes.drain()  // the step's files are all written before they are synced
            do { try driver.syncFileSystem() } catch { stopped = true; throw error }
            try driver.recordSynced(through: step)
            pending = nil
            last = ProgressLine.monotonicSeconds()
        }

        /// After an error: no sync and no record any more in this call; a background `syncfs` still
        /// running is waited for (its failure drops the boot too).
        mutating func stop(_ driver: RunDriver) {
            stopped = true
            pending = nil
            try? waitForFlush(driver)
        }

        /// Waits for the background `syncfs` (and records the steps it covers, if any); its failure
        /// stops the barrier and drops the boot.
        mutating func waitForFlush(_ driver: RunDriver) throws {
            guard let job = flushing else { return }
            let covers = flushCovers
            flushing = nil
            flushCovers = nil
            do { try job.wait() } catch {
                stopped = true
                driver.noteFailedSync()
                throw error
            }
            if let covers { try driver.recordSynced(through: covers) }
        }
    }

    /// Under ``Durability/stepBarrier``, before the call writes anything. The completed steps after
    /// the last one synced were written during the boot the record names; in another boot (a power
    /// cut or a kernel crash started this one), or when the record names none (a failed `syncfs`,
    /// an older record, no boot id), they may hold lost writes, and have their parts run again in
    /// order (each rewrites only what no longer matches its manifest's digests; normally all are up
    /// to date). Then it records this boot for what the call writes next, and has `barrier` sync
    /// those steps on another thread while the call's steps run, recording them as synced once done
    /// (they are intact in the page cache meanwhile: the sync only spares a later boot their
    /// verification). A synced step after `last` is about to be written again: the record stops
    /// calling it synced, and is synced itself before that happens.
    func makeDurable(through last: Int, barrier: inout Barrier) throws {
        guard durability == .stepBarrier else { return }
        try checkNoFailedSync()
        var record = DurabilityRecord.read(env.layout)
        let before = record
        var lowered = false
        if let synced = record.synced, synced > last {
            record.synced = last >= 0 ? last : nil
            lowered = true
        }
        if let steps = record.unverified(through: last, boot: boot) {
            for step in steps { try run(step: step) }
        }
        record.boot = boot
        if record != before { try record.write(env.layout) }
        if lowered { try syncFileSystem() }
        if (record.synced ?? -1) < last {
            try env.writes.drain()  // what the verification wrote again, before it is synced
            barrier.startFlush(self, covering: last)
        }
    }

    /// `syncfs` of the run's file system. A failure, here or earlier in any driver sharing
    /// ``Syncing/failures``, drops the record's boot and is thrown.
    func syncFileSystem() throws {
        do {
            try syncing.syncFileSystem(env.layout.root)
        } catch {
            noteFailedSync()
            throw error
        }
        try checkNoFailedSync()
    }

    /// A `syncfs` failed: noted for every driver sharing ``Syncing/failures``, and this run's
    /// record stops vouching for its unsynced steps.
    func noteFailedSync() {
        syncing.failures.note()
        DurabilityRecord.distrust(env.layout)
    }

    /// Records the steps through `step` as synced (a `syncfs` covering them has succeeded), unless a
    /// sync of a driver sharing ``Syncing/failures`` has failed meanwhile.
    func recordSynced(through step: Int) throws {
        try checkNoFailedSync()
        var record = DurabilityRecord.read(env.layout)
        guard (record.synced ?? -1) < step else { return }
        record.synced = step
        try record.write(env.layout)
    }

    /// Throws when a `syncfs` of a driver sharing ``Syncing/failures`` has failed, after dropping
    /// this run's boot: the lost write-back may have been this run's.
    func checkNoFailedSync() throws {
        guard syncing.failures.hasFailed else { return }
        DurabilityRecord.distrust(env.layout)
        throw ValenceError.io(path: env.layout.root, detail: "not recorded as written: a syncfs of this process failed (a write-back error, of this run or another on the same file system)")
    }
}
