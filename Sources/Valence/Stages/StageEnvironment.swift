import Dispatch

/// What every stage needs: the run's layout and config, and where progress goes.
///
/// It also holds the rules all stages share: how an input digest is formed, when an existing output
/// counts as up to date, and how an upstream manifest is checked before anything is read.
public struct StageEnvironment: Sendable {
    public let layout: RunLayout
    public let config: RunConfig
    public let runID: Identifier
    /// Progress lines (stderr in the executables); silent when nil.
    public let log: (@Sendable (String) -> Void)?
    /// Files parsed by earlier parts in this process, reused while their bytes are unchanged.
    public let files = ParsedFiles()
    /// Manifests still being written by other threads (in-process runs only; see ``DeferredManifests``).
    public let deferred = DeferredManifests()
    /// The queue in-process parts hand their shards and manifests to (off in the stage executables;
    /// see ``WriteBehind``).
    public let writes = WriteBehind()

    public init(run: String, log: (@Sendable (String) -> Void)? = nil) throws {
        layout = RunLayout(root: run)
        config = try layout.loadConfig()
        runID = config.runID
        self.log = log
    }

    public init(layout: RunLayout, config: RunConfig, log: (@Sendable (String) -> Void)? = nil) {
        self.layout = layout
        self.config = config
        runID = config.runID
        self.log = log
    }

    func say(_ text: String) { log?(text) }

    /// A writer for the shard at `relative`, handed to ``writes`` at commit when that is on.
    func shardWriter(_ relative: String) throws -> ShardWriter {
        try ShardWriter(path: layout.path(relative), level: 1, contexts: .shared, writeBehind: writes)
    }

    /// Digest of the stage's identity and the contents of every file it reads.
    func inputDigest(stage: String, step: Int, shard: Int? = nil, files: [String]) throws -> UInt64 {
        var d = Digest()
        d.update(stage)
        d.update(runID.description)
        d.update(step)
        if let shard { d.update(shard); d.update(config.shards) }
        for file in files {
            d.update(file)
            d.update(Digest.hex(try Digest.ofFile(layout.path(file)).value))
        }
        return d.value
    }

    /// The existing manifest at `path` if it was made from exactly these inputs and its outputs are
    /// all still in place, byte for byte; nil means the stage must (re)run.
    ///
    /// Before returning nil it deletes a stale manifest: while the stage rewrites its outputs (or
    /// after it fails on bad input) no downstream stage can mistake old or half-replaced outputs
    /// for current ones. Outputs count only when a manifest lists them.
    func upToDate(_ path: String, inputs: UInt64) -> Manifest? {
        let full = layout.path(path)
        if let m = try? Manifest.read(full), m.inputs == inputs, m.run == runID,
           m.outputs.allSatisfy({ o in
               FileSystem.fileSize(layout.path(o.path)) == o.bytes
                   && (try? Digest.ofFile(layout.path(o.path)).value) == o.digest
           }) {
            return m
        }
        if FileSystem.exists(full) { FileSystem.remove(full) }
        return nil
    }

    /// Locks the part whose manifest is `manifest` for as long as the returned lock lives, saying so
    /// when another process holds it (see ``FileLock``).
    func lockPart(_ manifest: String, stage: String) throws -> FileLock {
        let path = layout.path(RunLayout.lock(forManifest: manifest))
        return try FileLock.acquire(path, sharedInProcess: true, waiting: {
            say("\(stage): another process is writing \(manifest); waiting for it")
        }, unsupported: {
            say("\(stage): this file system has no flock; going on without the part lock")
        })
    }

    /// Reads an upstream manifest, failing clearly if that stage has not completed or belongs to
    /// another run or step.
    ///
    /// A manifest another thread of this process is still writing (``DeferredManifests``) is taken
    /// as it will be when its outputs are all known (a part that handed its writes to ``writes``);
    /// else waited for, or with `pending`, taken as it will be apart from the outputs still being
    /// written (for a part that only needs to know the upstream part is done).
    func requireManifest(_ path: String, from stage: String, step: Int, pending: Bool = false) throws -> Manifest {
        let full = layout.path(path)
        let m: Manifest
        if let deferred = deferred.entry(path) {
            m = pending || deferred.listsEveryOutput ? deferred.provisional : try deferred.job.wait()
        } else {
            guard FileSystem.exists(full) else {
                throw ValenceError.missingInput(path: full, detail: "missing upstream manifest: run valence-\(stage) for step \(step) first")
            }
            m = try Manifest.read(full)
        }
        guard m.run == runID else {
            throw ValenceError.badData(path: full, line: nil, detail: "manifest belongs to run \(m.run), this run is \(runID)")
        }
        guard m.step == step, m.stage == stage else {
            throw ValenceError.badData(path: full, line: nil, detail: "manifest is for \(m.stage) step \(m.step), expected \(stage) step \(step)")
        }
        return m
    }

    /// The manifest of an upstream stage part that wrote one shard (generate's rollouts, verify's
    /// verified records), checked as ``requireManifest(_:from:step:)`` does and known to list it
    /// first.
    func upstreamShard(step: Int, _ directory: String, shard: Int, from stage: String) throws -> Manifest {
        let path = RunLayout.partManifest(step: step, directory, shard: shard, shards: config.shards)
        let manifest = try requireManifest(path, from: stage, step: step)
        guard !manifest.outputs.isEmpty else {
            throw ValenceError.badData(path: layout.path(path), line: nil, detail: "lists no output")
        }
        return manifest
    }

    /// Streams a step shard's rollouts, checking what every step shard guarantees: this run, this
    /// step, strictly increasing (prompt, sample) order (so duplicates are caught in O(1) memory),
    /// and the record count its manifest promised.
    func forEachRollout(_ output: Manifest.Output, as schema: Schema, step: Int, readAhead: Bool = false,
                        _ body: (inout Rollout) throws -> Void) throws {
        try forEachRollout(output, as: schema, step: step, readAhead: readAhead) { r, _ in try body(&r) }
    }

    /// The same, also handing `body` the line's ``RolloutCore`` when the line is canonical (nil
    /// when it is not), so a stage that leaves the fields `run` through `logp` as they are can
    /// copy them into its output instead of encoding them again.
    /// `readAhead` decompresses on a second thread (see ``ShardReader/forEachLine(_:digest:readAhead:_:)``).
    ///
    /// A shard this process just wrote with its records kept (``HandedRollouts``) is not decoded:
    /// each record is loaded into the reused value as decoding its line would set it, with the
    /// line's core (always given: the lines are the encoder's own), and the same checks and errors,
    /// by line.
    func forEachRollout(_ output: Manifest.Output, as schema: Schema, step: Int, readAhead: Bool = false,
                        _ body: (inout Rollout, RolloutCore?) throws -> Void) throws {
        var r = Rollout()
        var last = (-1, -1)
        let path = layout.path(output.path)
        // A local, not `self.runID` in the closure: that copied the whole environment (config
        // strings, log closure: a dozen retains and releases) for every line.
        let runID = runID
        func check(_ r: Rollout) throws {
            guard r.run == runID else { throw RecordError("record belongs to run \(r.run), this run is \(runID)") }
            guard r.step == step else { throw RecordError("record is from step \(r.step), expected step \(step)") }
            let order = r.order
            if order <= last {
                let what = order == last ? "duplicate rollout" : "rollout out of order"
                throw RecordError("\(what): prompt \(order.0) sample \(order.1) after prompt \(last.0) sample \(last.1)")
            }
            last = order
        }
        let records: Int
        if let text = WrittenShards.shared.text(of: path), let handed = text.rollouts, handed.schema == schema {
            // Written by this process as these records: taken as they are, not decoded again (the
            // same records and cores, the same checks and errors, line by line).
            try Confinement.check(path)
            try text.withBytes { bytes in
                for i in 0..<handed.count {
                    try ShardReader.atLine(i + 1, of: path) {
                        handed.load(i, into: &r)
                        try check(r)
                        try body(&r, RolloutCore(bytes: UnsafeBufferPointer(rebasing: bytes[handed.core(i)])))
                    }
                }
            }
            records = handed.count
        } else {
            records = try NumberTextCache.borrow { numbers in try ShardReader.forEachLine(path, digest: false, readAhead: readAhead) { line, _ in
                let core = try r.decode(line, as: schema, numbers: numbers)
                try check(r)
                try body(&r, core)
            } }.records
        }
        if records != output.records {
            throw ValenceError.badData(path: path, line: nil, detail: "holds \(records) records but its manifest says \(output.records)")
        }
    }

    /// Runs `body` for each shard in `shards`, up to `jobs` at once; rethrows the first error by
    /// shard order. Results are independent of `jobs` because each shard writes only its own files.
    public func forEachShard(_ shards: [Int], jobs: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
        if jobs <= 1 || shards.count <= 1 {
            for s in shards { try body(s) }
            return
        }
        let errors = ErrorBox(count: shards.count)
        let queue = DispatchQueue(label: "valence.shards", attributes: .concurrent)
        let group = DispatchGroup()
        let semaphore = DispatchSemaphore(value: jobs)
        for (i, s) in shards.enumerated() {
            semaphore.wait()
            queue.async(group: group) {
                defer { semaphore.signal() }
                do { try body(s) } catch { errors.set(i, error) }
            }
        }
        group.wait()
        if let first = errors.first { throw first }
    }

    /// Every shard index of the run, or just `shard` when given.
    public func shardList(_ shard: Int?) throws -> [Int] {
        if let shard {
            guard (0..<config.shards).contains(shard) else {
                throw ValenceError.config(detail: "shard \(shard) is out of range 0..<\(config.shards)")
            }
            return [shard]
        }
        return Array(0..<config.shards)
    }

    func checkStep(_ step: Int, allowZero: Bool = false) throws {
        let low = allowZero ? 0 : 1
        guard step >= low && step <= config.steps else {
            throw ValenceError.config(detail: "step \(step) is outside this run's steps \(low)...\(config.steps)")
        }
    }
}

/// Collects the errors of concurrent jobs (a stage's shards, a sweep's runs) by job index.
public final class ErrorBox: @unchecked Sendable {
    private var errors: [Error?]
    private let lock = DispatchSemaphore(value: 1)

    public init(count: Int) { errors = Array(repeating: nil, count: count) }

    public func set(_ i: Int, _ error: Error) {
        lock.wait()
        errors[i] = error
        lock.signal()
    }

    /// The error of the lowest job index that failed, with that index.
    public var firstIndexed: (index: Int, error: Error)? {
        lock.wait()
        defer { lock.signal() }
        return errors.enumerated().lazy.compactMap { i, e in e.map { (i, $0) } }.first
    }

    public var first: Error? { firstIndexed?.error }

    /// How many jobs failed.
    public var count: Int {
        lock.wait()
        defer { lock.signal() }
        return errors.lazy.filter { $0 != nil }.count
    }
}

/// Tuple comparison for (prompt, sample) ordering.
@inline(__always) func <= (lhs: (Int, Int), rhs: (Int, Int)) -> Bool {
    lhs.0 < rhs.0 || (lhs.0 == rhs.0 && lhs.1 <= rhs.1)
}
