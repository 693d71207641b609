/// `valence-update`: one optimizer step on J from all of a step's weighted shards (SPEC 5.6).
public enum UpdateStage {
    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int) throws -> Manifest {
        try env.checkStep(step)
        let config = env.config
        let shards = config.shards
        _ = try env.requireManifest(RunLayout.checkpointManifest(step - 1), from: "update", step: step - 1)
        var weighted: [Manifest] = []
        for shard in 0..<shards {
            weighted.append(try env.requireManifest(
                RunLayout.partManifest(step: step, WeightStage.directory, shard: shard, shards: shards), from: "weight", step: step))
        }
        let policyFile = RunLayout.policy(step - 1)
        let stateFile = RunLayout.optimizerState(step - 1)
        let inputFiles = weighted.flatMap { $0.outputs.map(\.path) }
        let manifestFile = RunLayout.checkpointManifest(step)
        let inputs = try env.inputDigest(stage: "update", step: step, files: [policyFile, stateFile] + inputFiles)
        if let done = env.upToDate(manifestFile, inputs: inputs) {
            env.say("update: step \(step) is up to date")
            return done
        }

        let space = try config.space
        var policy = try TabularPolicy.read(from: env.layout.path(policyFile), space: space).policy
        var state = try OptimizerState.read(from: env.layout.path(stateFile), kind: config.optimizer, space: space).state
        guard state.t == step - 1 else {
            throw ValenceError.badData(path: env.layout.path(stateFile), line: nil, detail: "optimizer has taken \(state.t) steps, expected \(step - 1)")
        }
        let pi = policy.probabilities()

        // PSR part from the positive shards, NSR part from the negative ones, each in canonical order.
        var positive = GradientAccumulator(rowCount: space.rowCount)
        var negative = GradientAccumulator(rowCount: space.rowCount)
        var rows: [Int] = []
        var rowsPrompt = -1
        let operands = space.task.operandCount
        for manifest in weighted {
            for output in manifest.outputs {
                let isPositive = output.path.contains("/positive/")
                try env.forEachRollout(output, as: .weighted, step: step) { r in
                    guard r.tokens.count == space.length else {
                        throw RecordError("\(r.tokens.count) tokens, the task's responses have \(space.length)")
                    }
                    // a and b pick the table rows: out of range they would index outside it.
                    guard (0..<operands).contains(r.a), (0..<operands).contains(r.b) else {
                        throw RecordError("operands \(r.a), \(r.b) are outside [0, \(operands))")
                    }
                    if r.prompt != rowsPrompt {
                        space.rows(a: r.a, b: r.b, into: &rows)
                        rowsPrompt = r.prompt
                    }
                    if isPositive {
                        for j in 0..<rows.count { positive.add(row: rows[j], token: r.tokens[j], advantage: r.advantage) }
                    } else {
                        for j in 0..<rows.count { negative.add(row: rows[j], token: r.tokens[j], advantage: r.advantage) }
                    }
                }
            }
        }
        let scale = 1 / Double(config.group * space.length)
        let gPositive = positive.gradient(probabilities: pi, scale: scale)
        let gNegative = negative.gradient(probabilities: pi, scale: scale)
        var g = gPositive
        for i in g.indices { g[i] += gNegative[i] }
        state.step(parameters: &policy.logits, gradient: g, learningRate: config.learningRate)
        for (i, z) in policy.logits.enumerated() where !(abs(z) <= TabularPolicy.maxLogit) {
            throw ValenceError.badData(path: env.layout.path(policyFile), line: nil,
                                       detail: "update produced logit \(z) in row \(i / 10) (\(space.label(row: i / 10))), outside [-1e6, 1e6]; lower the learning rate")
        }

        let p = try policy.write(to: env.layout.path(RunLayout.policy(step)))
        let o = try state.write(to: env.layout.path(RunLayout.optimizerState(step)), space: space)
        let manifest = Manifest(
            stage: "update", run: env.runID, step: step, shard: nil, shards: nil, inputs: inputs,
            outputs: [
                .init(path: RunLayout.policy(step), schema: Schema.policy.rawValue, records: p.records, bytes: p.bytes, digest: p.digest),
                .init(path: RunLayout.optimizerState(step), schema: Schema.adam.rawValue, records: o.records, bytes: o.bytes, digest: o.digest),
            ],
            stats: [
                ("t", .int(state.t)),
                ("grad_norm", .double(frobeniusNorm(g))),
                ("grad_norm_psr", .double(frobeniusNorm(gPositive))),
                ("grad_norm_nsr", .double(frobeniusNorm(gNegative))),
                ("visits_psr", .int(positive.visits)),
                ("visits_nsr", .int(negative.visits)),
            ]
        )
        try manifest.write(to: env.layout.path(manifestFile))
        env.say("update: step \(step): |g| = \(formatNumber(frobeniusNorm(g), decimals: 5)) (psr \(formatNumber(frobeniusNorm(gPositive), decimals: 5)), nsr \(formatNumber(frobeniusNorm(gNegative), decimals: 5)))")
        return manifest
    }
}
