/// Where every file of a run lives. All paths in manifests are relative to the run directory.
///
/// ```
/// RUN/config.json                      valence-init
/// RUN/task/{train,test}.jsonl.zst      valence-init (+ task/MANIFEST.json)
/// RUN/steps/000000/checkpoint/         valence-init: the base policy and fresh optimizer state
/// RUN/steps/NNNNNN/rollouts/           valence-generate
/// RUN/steps/NNNNNN/verified/           valence-verify
/// RUN/steps/NNNNNN/split/{positive,negative,groups}/   valence-split
/// RUN/steps/NNNNNN/weighted/{positive,negative}/       valence-weight
/// RUN/steps/NNNNNN/checkpoint/         valence-update: policy + optimizer state after step N
///                                      (+ critic.jsonl.zst for ppo)
/// RUN/steps/NNNNNN/eval/               valence-eval
/// RUN/metrics.jsonl                    valence-eval: each step's lines appended (see MetricsLog)
/// RUN/.locks/                          empty lock files: one per stage part (not per step)
/// RUN/.synced                          valence-step, valence-sweep: the last step synced, and the boot of the steps after it (DurabilityRecord)
/// ```
///
/// Making a layout registers its root with ``Confinement``: from then on, in this process, no file
/// under it is read, created or renamed through a symbolic link that leads out of it, and the paths
/// its manifests list are checked when they are read (docs/security.md).
public struct RunLayout: Sendable {
    public let root: String

    public init(root: String) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
        Confinement.register(r)
    }

    /// `relative` under the root. Every `relative` is either built by this type or read from a
    /// manifest, which ``Manifest/read(_:)`` has checked to be a ``RelativePath`` inside the run.
    public func path(_ relative: String) -> String { "\(root)/\(relative)" }

    public var config: String { path("config.json") }
    public var lock: String { path(".lock") }
    public var metrics: String { path("metrics.jsonl") }
    public var taskManifest: String { path("task/MANIFEST.json") }

    public static func taskShard(_ split: String) -> String { "task/\(split).jsonl.zst" }

    public static func stepDirectory(_ step: Int) -> String {
        let s = String(step)
        return "steps/" + String(repeating: "0", count: max(0, 6 - s.count)) + s
    }

    public static func partName(shard: Int, shards: Int) -> String {
        func pad(_ n: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, 5 - s.count)) + s
        }
        return "part-\(pad(shard))-of-\(pad(shards))"
    }

    /// `steps/N/<dir>/part-i-of-n.jsonl.zst`
    public static func shard(step: Int, _ directory: String, shard: Int, shards: Int) -> String {
        "\(stepDirectory(step))/\(directory)/\(partName(shard: shard, shards: shards)).jsonl.zst"
    }

    /// `steps/N/<stage dir>/part-i-of-n.manifest.json`
    public static func partManifest(step: Int, _ directory: String, shard: Int, shards: Int) -> String {
        "\(stepDirectory(step))/\(directory)/\(partName(shard: shard, shards: shards)).manifest.json"
    }

    public static func checkpoint(_ step: Int) -> String { "\(stepDirectory(step))/checkpoint" }
    public static func policy(_ step: Int) -> String { "\(checkpoint(step))/policy.jsonl.zst" }
    public static func optimizerState(_ step: Int) -> String { "\(checkpoint(step))/optimizer.jsonl.zst" }
    /// ppo's value table V after step N (step 0: all zeros, written by valence-init).
    public static func critic(_ step: Int) -> String { "\(checkpoint(step))/critic.jsonl.zst" }
    public static func checkpointManifest(_ step: Int) -> String { "\(checkpoint(step))/MANIFEST.json" }
    public static func evalManifest(_ step: Int) -> String { "\(stepDirectory(step))/eval/MANIFEST.json" }
    /// One step's metrics lines; `metrics.jsonl` is these, step after step.
    public static func evalMetrics(_ step: Int) -> String { "\(stepDirectory(step))/eval/metrics.jsonl" }
    /// The lock a stage part holds while it works: named after the part's manifest without its
    /// step (`steps/000007/rollouts/part-00000-of-00002.manifest.json` ->
    /// `.locks/rollouts_part-00000-of-00002.manifest.json.lock`), so a run keeps one lock file per
    /// stage part however many steps it takes. The same part of two steps then shares a lock:
    /// harmless, since a run's steps run one after another. Kept outside the output directories
    /// (which hold only outputs).
    public static func lock(forManifest manifest: String) -> String {
        var name = Substring(manifest)
        if name.hasPrefix("steps/"), let slash = name.dropFirst(6).firstIndex(of: "/") {
            name = name[name.index(after: slash)...]
        }
        return ".locks/" + String(name).replacingSlashes() + ".lock"
    }
    /// Held while `metrics.jsonl` is rebuilt (evals of different steps share that file).
    public static let metricsLock = ".locks/metrics.jsonl.lock"

    public func loadConfig() throws -> RunConfig {
        guard FileSystem.exists(config) else {
            throw ValenceError.missingInput(path: config, detail: "no run here (create it with valence-init or `make run`)")
        }
        return try RunConfig.load(config)
    }

    /// The highest step whose evaluation is complete, or nil when not even the base is evaluated.
    public func lastEvaluatedStep() -> Int? {
        guard let names = try? FileSystem.list(path("steps")) else { return nil }
        var last: Int?
        for name in names {
            guard let step = Int(name), FileSystem.exists(path(RunLayout.evalManifest(step))) else { continue }
            last = max(last ?? step, step)
        }
        return last
    }
}

extension String {
    fileprivate func replacingSlashes() -> String {
        String(map { $0 == "/" ? "_" : $0 })
    }
}
