/// One unit of stage work that ends in a manifest: one shard of a sharded stage (generate, verify,
/// split, weight) or a whole step (update, eval).
///
/// A part supplies only what is its own: which upstream manifests it requires and which files it
/// reads (``plan(_:)``), and the work itself (``produce(_:plan:)``). Everything every stage repeats
/// lives once in ``StageEnvironment/run(_:)``: the step check, the part lock, the input digest, the
/// up-to-date check, and writing the manifest last.
public protocol StagePart {
    associatedtype Stats: ManifestStats

    /// The stage's name as manifests and messages spell it ("generate").
    static var name: String { get }
    /// Whether the part may run at step 0 (only eval: the base policy).
    static var allowsStepZero: Bool { get }

    var step: Int { get }
    /// The shard this part writes; nil for a whole-step stage.
    var shard: Int? { get }

    /// Checks the upstream manifests (failing clearly when an upstream stage has not completed) and
    /// says what the part will read. Runs before the part lock is taken.
    func plan(_ env: StageEnvironment) throws -> StagePlan

    /// Writes the part's outputs (each through a temporary file renamed into place) and returns
    /// them with the stats its manifest records. Runs under the part lock, only when the part is
    /// not up to date.
    func produce(_ env: StageEnvironment, plan: StagePlan) throws -> StageProduct<Stats>

    /// Called instead of ``produce(_:plan:)`` when the part is up to date (eval makes sure the
    /// run's `metrics.jsonl` holds its lines).
    func upToDate(_ env: StageEnvironment, manifest: Manifest) throws
}

extension StagePart {
    public static var allowsStepZero: Bool { false }

    /// "step 3 part 2/4" or "step 3", for messages.
    public func place(_ env: StageEnvironment) -> String {
        shard.map { "step \(step) part \($0 + 1)/\(env.config.shards)" } ?? "step \(step)"
    }

    public func upToDate(_ env: StageEnvironment, manifest: Manifest) throws {}
}

/// A stage with one part per shard (generate, verify, split, weight): what they share besides the
/// skeleton, the shard a part writes and the one place that hands an expected-mode run
/// (docs/mechanism.md) to the stage's expected part.
public protocol ShardedStagePart: StagePart {
    /// The step directory's subdirectory the stage writes (`rollouts`, `verified`, ...).
    static var directory: String { get }
    init(step: Int, shard: Int)
    /// The shard this part writes.
    var part: Int { get }
    /// The part in expected-gradient mode (`Stage+Expected.swift`).
    static func runExpected(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest
}

extension ShardedStagePart {
    public var shard: Int? { part }

    /// This part's manifest, relative to the run directory.
    public func partManifest(_ env: StageEnvironment) -> String {
        RunLayout.partManifest(step: step, Self.directory, shard: part, shards: env.config.shards)
    }

    /// Runs part `shard` of step `step`: through the stage skeleton (``StageEnvironment/run(_:)``),
    /// or, in expected-gradient mode, through the stage's expected part.
    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        if env.config.rollouts == .expected { return try runExpected(env, step: step, shard: shard) }
        return try env.run(Self(step: step, shard: shard))
    }
}

/// What a part reads, decided before it runs.
public struct StagePlan: Sendable {
    /// The part's manifest, relative to the run directory.
    public var manifest: String
    /// Every file the part reads, in a fixed order: their contents go into the input digest.
    public var files: [String]
    /// The stage identity digested with the files (the stage name, or e.g. "eval samples=1024"
    /// when an option changes what the part writes).
    public var identity: String
    /// Upstream manifests the part has already read, for ``StagePart/produce(_:plan:)`` to use.
    public var upstream: [Manifest]

    public init(manifest: String, files: [String], identity: String, upstream: [Manifest] = []) {
        self.manifest = manifest
        self.files = files
        self.identity = identity
        self.upstream = upstream
    }
}

/// What a part wrote: its outputs, its typed stats and a one-line summary for the log (what follows
/// "stage: ", usually starting with ``StagePart/place(_:)``).
public struct StageProduct<Stats: ManifestStats> {
    public var outputs: [Manifest.Output]
    public var stats: Stats
    public var summary: String
    /// When some outputs are still being written on other threads: waits for them and returns the
    /// whole list in manifest order (``outputs`` then lists those already written). The skeleton
    /// calls it before the manifest, on this thread or, in-process, on the write-behind queue.
    public var completion: (@Sendable () throws -> [Manifest.Output])?

    public init(outputs: [Manifest.Output], stats: Stats, completion: (@Sendable () throws -> [Manifest.Output])? = nil, summary: String) {
        self.outputs = outputs
        self.stats = stats
        self.completion = completion
        self.summary = summary
    }
}

extension StageEnvironment {
    /// Runs one stage part: the skeleton every stage shares.
    ///
    /// 1. check the step against the run's steps; 2. the part's plan (upstream manifests checked);
    /// 3. take the part lock; 4. digest the inputs; 5. if the existing manifest matches, stop;
    /// 6. produce the outputs; 7. write the manifest last, so its presence means the outputs are
    /// complete (in-process, with ``writes`` on, by that queue, after the outputs the part handed to
    /// it and any it is still writing on other threads: ``DeferredManifests``).
    @discardableResult
    public func run<Part: StagePart>(_ part: Part) throws -> Manifest {
        // A write handed off by an earlier part failed: nothing after it runs.
        try writes.check()
        try checkStep(part.step, allowZero: Part.allowsStepZero)
        let plan = try part.plan(self)
        let lock = SendableLock(try lockPart(plan.manifest, stage: Part.name))
        var lockHandedOver = false
        defer {
            // With write-behind, not before what the part handed over (if it failed midway) is written.
            if !lockHandedOver { writes.isOn ? writes.release(lock) : lock.release() }
        }
        let path = layout.path(plan.manifest)
        // With write-behind, a part without a manifest cannot be up to date: it runs at once, and
        // its inputs are digested when the queue reaches its manifest, after every input handed over
        // before it is written. Any other part digests them now, the queue written first.
        let fresh = writes.isOn && !FileSystem.exists(path)
        var inputs: UInt64?
        if !fresh {
            if writes.isOn { try writes.drain() }
            let digest = try inputDigest(stage: plan.identity, step: part.step, shard: part.shard, files: plan.files)
            if let done = upToDate(plan.manifest, inputs: digest) {
                say("\(Part.name): \(part.place(self)) is up to date")
                try part.upToDate(self, manifest: done)
                return done
            }
            inputs = digest
        }
        let product = try part.produce(self, plan: plan)
        let (stage, runID, step, shard, shards, fields) = (Part.name, runID, part.step, part.shard, part.shard == nil ? nil : config.shards, product.stats.fields)
        let manifest = { @Sendable (inputs: UInt64, outputs: [Manifest.Output]) in
            Manifest(stage: stage, run: runID, step: step, shard: shard, shards: shards, inputs: inputs, outputs: outputs, stats: fields)
        }
        if writes.isOn {
            // In-process with write-behind: the manifest, still after the part's outputs (handed
            // over before it), and the part lock go to the queue.
            let env = self, completion = product.completion, outputs = product.outputs
            let (identity, files, partShard, known) = (plan.identity, plan.files, part.shard, inputs)
            let job = writes.submit({
                defer { lock.release() }
                let digest = try known ?? env.inputDigest(stage: identity, step: step, shard: partShard, files: files)
                let listed = try (completion?() ?? outputs).map { try env.writes.resolve($0, in: env.layout) }
                let complete = manifest(digest, listed)
                try complete.write(to: path)
                return complete
            }, skipped: { lock.release() })
            lockHandedOver = true
            // What readers in this process take it as until it is written: every output listed (by
            // path and record count) unless some are still being produced.
            let provisional = manifest(inputs ?? 0, outputs)
            deferred.add(plan.manifest, provisional: provisional, listsEveryOutput: completion == nil, job: job)
            say("\(Part.name): \(product.summary)")
            return provisional
        }
        // A stage executable: outputs still being written on other threads are waited for here.
        let complete = manifest(inputs ?? 0, try product.completion?() ?? product.outputs)
        try complete.write(to: path)
        say("\(Part.name): \(product.summary)")
        return complete
    }
}

/// A part lock handed from the skeleton to the job that writes a deferred manifest (released once,
/// by whichever holds it last).
final class SendableLock: @unchecked Sendable {
    private let lock: FileLock
    init(_ lock: FileLock) { self.lock = lock }
    func release() { lock.release() }
}
