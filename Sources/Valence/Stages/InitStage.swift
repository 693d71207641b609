/// `valence-init`: creates a run directory with its config, task prompt shards and base policy.
public enum InitStage {
    /// Creates or completes the run. Re-initialising with the same identity is a no-op apart from
    /// updating `steps` and `shards`; a different identity is refused rather than mixed in.
    public static func run(root: String, config: RunConfig, log: (@Sendable (String) -> Void)? = nil) throws {
        try config.validate()
        let layout = RunLayout(root: root)
        if FileSystem.exists(layout.config) {
            let existing = try RunConfig.load(layout.config)
            if existing.runID != config.runID {
                throw ValenceError.config(detail: "\(layout.config) holds a different run (run id \(existing.runID), objective \(existing.objective.rawValue), window \(existing.window), seed \(existing.seed)); choose another RUN or delete it")
            }
        }
        try FileSystem.makeDirectories(root)
        let text = config.json.prettyText() + "\n"
        if (try? FileSystem.readText(layout.config)) != text {
            try FileSystem.writeAtomically(layout.config, text: text)
        }
        // Each step directory is a unit of its own: let the file system place it where there is
        // room (see FileSystem.spreadSubdirectories).
        let steps = layout.path("steps")
        try FileSystem.makeDirectories(steps)
        FileSystem.spreadSubdirectories(steps)
        let env = StageEnvironment(layout: layout, config: config, log: log)
        try writeTask(env)
        try writeBase(env)
    }

    static func writeTask(_ env: StageEnvironment) throws {
        let config = env.config
        var d = Digest()
        d.update("task")
        d.update(config.taskID.description)
        if let m = try? Manifest.read(env.layout.taskManifest), m.inputs == d.value,
           m.outputs.allSatisfy({ FileSystem.fileSize(env.layout.path($0.path)) == $0.bytes }) {
            return
        }
        let task = try config.task
        let split = try task.split(seed: config.seed, train: config.trainPrompts, test: config.testPrompts)
        var manifest = Manifest(stage: "init", run: env.runID, step: 0, shard: nil, shards: nil, inputs: d.value)
        for (name, pairs) in [("train", split.train), ("test", split.test)] {
            let rel = RunLayout.taskShard(name)
            let writer = try ShardWriter(path: env.layout.path(rel))
            for (id, pair) in pairs.enumerated() {
                PromptRecord(task: config.taskID, split: name, id: id, a: pair.a, b: pair.b,
                             text: task.promptText(a: pair.a, b: pair.b),
                             answer: task.answerText(a: pair.a, b: pair.b)).encode(into: &writer.json)
                try writer.endRecord()
            }
            let s = try writer.commit()
            manifest.outputs.append(.init(path: rel, schema: Schema.prompt.rawValue, records: s.records, bytes: s.bytes, digest: s.digest))
        }
        manifest.stats = [("task", .string("add")), ("task_id", .string(config.taskID.description))]
        try manifest.write(to: env.layout.taskManifest)
        env.say("init: task add (nd = \(config.digits)): \(split.train.count) train, \(split.test.count) test prompts")
    }

    static func writeBase(_ env: StageEnvironment) throws {
        let config = env.config
        var d = Digest()
        d.update("base")
        d.update(env.runID.description)
        let manifestPath = RunLayout.checkpointManifest(0)
        if env.upToDate(manifestPath, inputs: d.value) != nil { return }
        let space = try config.space
        var builder = BasePolicyBuilder(space: space)
        builder.corpusSize = config.corpus
        builder.forget = config.forget
        builder.noise = config.noise
        builder.alpha = config.alpha
        builder.temperature = config.baseTemperature
        let policy = builder.build(seed: config.seed)
        let state = OptimizerState(kind: config.optimizer, parameterCount: policy.logits.count)
        let p = try policy.write(to: env.layout.path(RunLayout.policy(0)))
        let o = try state.write(to: env.layout.path(RunLayout.optimizerState(0)), space: space)
        var manifest = Manifest(stage: "update", run: env.runID, step: 0, shard: nil, shards: nil, inputs: d.value)
        manifest.outputs = [
            .init(path: RunLayout.policy(0), schema: Schema.policy.rawValue, records: p.records, bytes: p.bytes, digest: p.digest),
            .init(path: RunLayout.optimizerState(0), schema: Schema.adam.rawValue, records: o.records, bytes: o.bytes, digest: o.digest),
        ]
        if config.objective.usesCritic {
            let c = try Critic(space: space).write(to: env.layout.path(RunLayout.critic(0)))
            manifest.outputs.append(.init(path: RunLayout.critic(0), schema: Schema.critic.rawValue, records: c.records, bytes: c.bytes, digest: c.digest))
        }
        manifest.stats = [("rows", .int(space.rowCount)), ("corpus", .int(config.corpus)), ("t", .int(0))]
        try manifest.write(to: env.layout.path(manifestPath))
        env.say("init: base policy from a corpus of \(config.corpus) noisy solutions, \(space.rowCount) rows (window \(config.window))")
    }
}
