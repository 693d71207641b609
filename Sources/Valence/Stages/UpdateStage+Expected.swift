/// update in expected-gradient mode (docs/model.md 8): one optimizer step on the expected gradient
/// g = sum_x w_x s_x / L, s_x = grad log p_x under the checkpoint's policy (the generating one),
/// from weight's expected records in canonical prompt order. Entropy bonus and KL use the same
/// visited rows as a sampled step (the rows do not depend on the sampled tokens), weight decay and
/// gradient-norm clipping are the optimizer's as usual, and ppo's critic moves toward the
/// expected reward: V[c] += critic_lr * mean over the step's visits (x, j) of c of (p_x - V[c]).
extension UpdateStage {
    static func runExpected(_ env: StageEnvironment, step: Int) throws -> Manifest {
        try env.checkStep(step)
        let config = env.config
        _ = try env.requireManifest(RunLayout.checkpointManifest(step - 1), from: "update", step: step - 1)
        var inputs: [Manifest.Output] = []
        for shard in 0..<config.shards {
            let file = RunLayout.partManifest(step: step, WeightStage.directory, shard: shard, shards: config.shards)
            let m = try env.requireManifest(file, from: "weight", step: step)
            guard let o = m.outputs.first(where: { $0.schema == Schema.expected.rawValue }) else {
                throw ValenceError.badData(path: env.layout.path(file), line: nil, detail: "lists no expected shard (a sampled run's weight?)")
            }
            inputs.append(o)
        }
        let isPPO = config.objective == .ppo
        let policyFile = RunLayout.policy(step - 1), stateFile = RunLayout.optimizerState(step - 1)
        let criticFile = isPPO ? RunLayout.critic(step - 1) : nil
        let baseFile = config.klCoef != 0 ? RunLayout.policy(0) : nil
        let files = [policyFile, stateFile] + [criticFile, baseFile].compactMap { $0 } + inputs.map(\.path)
        return try env.expectedPart(UpdateStage.self, step: step, shard: nil, manifest: RunLayout.checkpointManifest(step), files: files) { env in
            let space = try config.space
            let L = space.length
            var policy = try TabularPolicy.read(from: env.layout.path(policyFile), space: space).policy
            var state = try OptimizerState.read(from: env.layout.path(stateFile), kind: config.optimizer, space: space).state
            guard state.t == step - 1 else {
                throw ValenceError.badData(path: env.layout.path(stateFile), line: nil, detail: "optimizer has taken \(state.t) steps, expected \(step - 1)")
            }
            var critic = try criticFile.map { try Critic.read(from: env.layout.path($0), space: space) }
            let baseLogPi = try baseFile.map { try TabularPolicy.read(from: env.layout.path($0), space: space).policy.logProbabilities() }
            let pi = policy.probabilities(), logPi = policy.logProbabilities()

            // The regularisers through the sampled step's own code: every prompt's L rows visited
            // with zero advantage (the visit proportions of G rollouts per prompt are the same).
            var regularisers = MinibatchGradient(probabilities: pi, logProbabilities: logPi, options: UpdateOptions(config: config))
            var expected = ExpectedGradient(rowCount: space.rowCount)
            var visits = Critic.Visits(rowCount: space.rowCount)
            var rows: [Int] = []
            let zeros = [Double](repeating: 0, count: L)
            let operands = space.task.operandCount
            var prompts = 0
            for input in inputs {
                try env.forEachExpected(input, step: step, need: ["p", "w"]) { r in
                    guard (0..<operands).contains(r.a), (0..<operands).contains(r.b) else {
                        throw RecordError("operands \(r.a), \(r.b) are outside [0, \(operands))")
                    }
                    guard let text = r.answer, text.utf8.count == L, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                        throw RecordError("answer \"\(r.answer ?? "")\" is not \(L) digits")
                    }
                    let answer = text.utf8.map { Int($0) - 48 }
                    space.rows(a: r.a, b: r.b, into: &rows)
                    expected.add(rows: rows, answer: answer, weight: ExpectedWeight(psr: r.wPSR ?? 0, nsr: r.wNSR ?? 0))
                    if regularisers.options.needsVisitCounts {
                        regularisers.add(rows: rows, tokens: answer, logp: answer.indices.map { logPi[rows[$0] * 10 + answer[$0]] },
                                         advantages: zeros, positive: true)
                    }
                    if critic != nil {
                        for row in rows {
                            visits.residualSums[row] += (r.p ?? 0) - (critic?.values[row] ?? 0)
                            visits.counts[row] += 1
                        }
                    }
                    prompts += 1
                }
            }
            let parts = expected.gradient(probabilities: pi, scale: 1 / Double(L))
            var total = regularisers.gradient(scale: 1, baseLogProbabilities: baseLogPi).total
            for i in total.indices { total[i] += parts.total[i] }
            let norm = (total: frobeniusNorm(total), psr: frobeniusNorm(parts.psr), nsr: frobeniusNorm(parts.nsr))
            let clipped = clipGradientNorm(&total, limit: config.gradClip) > (config.gradClip ?? .infinity)
            state.step(parameters: &policy.logits, gradient: total, learningRate: config.learningRate, weightDecay: config.weightDecay)
            for (i, z) in policy.logits.enumerated() where !(abs(z) <= TabularPolicy.maxLogit) {
                throw ValenceError.badData(path: env.layout.path(policyFile), line: nil,
                                           detail: "update produced logit \(z) in row \(i / 10) (\(space.label(row: i / 10))), outside [-1e6, 1e6]; lower the learning rate")
            }
            critic?.update(with: visits, learningRate: config.criticLearningRate)

            func output(_ path: String, _ schema: Schema, _ s: ShardSummary) -> Manifest.Output {
                .init(path: path, schema: schema.rawValue, records: s.records, bytes: s.bytes, digest: s.digest)
            }
            var outputs = [
                output(RunLayout.policy(step), .policy, try policy.write(to: env.layout.path(RunLayout.policy(step)))),
                output(RunLayout.optimizerState(step), .adam, try state.write(to: env.layout.path(RunLayout.optimizerState(step)), space: space)),
                output(GradientParts.file(step), .gradient,
                       try GradientParts(space: space, psr: parts.psr, nsr: parts.nsr).write(to: env.layout.path(GradientParts.file(step)))),
            ]
            if let critic { outputs.append(output(RunLayout.critic(step), .critic, try critic.write(to: env.layout.path(RunLayout.critic(step))))) }
            var stats: [(String, JSONValue)] = [("t", .int(state.t)), ("grad_norm", .double(norm.total)),
                                                ("grad_norm_psr", .double(norm.psr)), ("grad_norm_nsr", .double(norm.nsr)),
                                                // Each part's accumulator visits every prompt's L rows once.
                                                ("visits_psr", .int(prompts * L)), ("visits_nsr", .int(prompts * L)),
                                                ("prompts", .int(prompts)), ("rollouts", .string("expected"))]
            if config.gradClip != nil { stats.append(("grad_clipped_steps", .int(clipped ? 1 : 0))) }
            return (outputs, stats, "|g| = \(formatNumber(norm.total, decimals: 5)) (psr \(formatNumber(norm.psr, decimals: 5)), nsr \(formatNumber(norm.nsr, decimals: 5))), expected over \(prompts) prompts")
        }
    }
}
