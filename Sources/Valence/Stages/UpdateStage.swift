/// `valence-update`: the optimizer steps of a training step on J from all of its weighted shards
/// (docs/model.md 5.6 and 5.7).
///
/// With M = 1 (the default) it streams the shards once: one ``MinibatchGradient`` under the
/// checkpoint's policy, one optimizer step. With M > 1 it holds the step's rollouts in a
/// ``StepBatch`` and takes M optimizer steps, each minibatch measured under the policy the previous
/// one produced. Either way the sums follow the canonical (prompt, sample) order, so the result does
/// not depend on how the step was sharded. For ppo it also moves the critic after the policy.
public struct UpdateStage: StagePart {
    public static let name = "update"

    public let step: Int
    public var shard: Int? { nil }

    public init(step: Int) { self.step = step }

    /// Runs the step's update through the stage skeleton (``StageEnvironment/run(_:)``).
    @discardableResult
    public static func run(_ env: StageEnvironment, step: Int) throws -> Manifest {
        if env.config.rollouts == .expected { return try runExpected(env, step: step) }
        return try env.run(UpdateStage(step: step))
    }

    /// The checkpoint files read: policy and optimizer state, then ppo's critic and, with a KL
    /// penalty, the base policy.
    func checkpointFiles(_ config: RunConfig) -> (policy: String, state: String, critic: String?, base: String?) {
        (RunLayout.policy(step - 1), RunLayout.optimizerState(step - 1),
         config.objective.usesCritic ? RunLayout.critic(step - 1) : nil, config.klCoef != 0 ? RunLayout.policy(0) : nil)
    }

    public func plan(_ env: StageEnvironment) throws -> StagePlan {
        let shards = env.config.shards
        // Pending: in-process, the checkpoint's tables come from memory (``ParsedFiles``), so the
        // previous update need only be done, not its optimizer state written.
        _ = try env.requireManifest(RunLayout.checkpointManifest(step - 1), from: Self.name, step: step - 1, pending: true)
        var weighted: [Manifest] = []
        for shard in 0..<shards {
            weighted.append(try env.requireManifest(
                RunLayout.partManifest(step: step, WeightStage.directory, shard: shard, shards: shards), from: WeightStage.name, step: step))
        }
        let c = checkpointFiles(env.config)
        return StagePlan(manifest: RunLayout.checkpointManifest(step),
                         files: [c.policy, c.state] + [c.critic, c.base].compactMap { $0 } + weighted.flatMap { $0.outputs.map(\.path) },
                         identity: Self.name, upstream: weighted)
    }

    public func produce(_ env: StageEnvironment, plan: StagePlan) throws -> StageProduct<UpdateStats> {
        let config = env.config
        let options = UpdateOptions(config: config)
        let weighted = plan.upstream
        let (policyFile, stateFile, criticFile, baseFile) = checkpointFiles(config)
        let space = try config.space
        let L = space.length
        var policy = try env.policy(policyFile, space: space)
        var state = try env.optimizerState(stateFile, space: space)
        let M = config.minibatches
        guard state.t == (step - 1) * M else {
            throw ValenceError.badData(path: env.layout.path(stateFile), line: nil,
                                       detail: "optimizer has taken \(state.t) steps, expected \((step - 1) * M) (\(step - 1) steps x \(M) minibatches)")
        }
        var critic = try criticFile.map { try Critic.read(from: env.layout.path($0), space: space) }
        let baseLogPi = try baseFile.map { try env.policy($0, space: space).logProbabilities() }

        // Read the weighted shards once, in canonical order per part (PSR, NSR): either straight
        // into the single minibatch (M = 1) or into compact arrays (M > 1). ppo's critic visits are
        // collected per part too, so their sums do not depend on the shard count.
        // KL-Cov and Clip-Cov select among a minibatch's tokens, so they need it whole.
        let streaming = M == 1 && !options.needsWholeMinibatch
        var single = MinibatchGradient(policy: policy, options: options)
        var positiveRollouts = 0, rollouts = 0
        var batch = StepBatch(length: L)
        var criticVisits = (positive: Critic.Visits(rowCount: space.rowCount), negative: Critic.Visits(rowCount: space.rowCount))
        var rows: [Int] = []
        var rowsPrompt = -1
        let operands = space.task.operandCount
        var advantages = [Double](repeating: 0, count: L)
        for manifest in weighted {
            for output in manifest.outputs {
                let isPositive = output.path.contains("/positive/")
                // update is the one stage of a step that runs alone, so it decompresses on a
                // second core (when it may use one) while this one decodes and accumulates.
                try env.forEachRollout(output, as: .weighted, step: step, readAhead: true) { r in
                    guard r.tokens.count == L else {
                        throw RecordError("\(r.tokens.count) tokens, the task's responses have \(L)")
                    }
                    // a and b pick the table rows: out of range they would index outside it.
                    guard (0..<operands).contains(r.a), (0..<operands).contains(r.b) else {
                        throw RecordError("operands \(r.a), \(r.b) are outside [0, \(operands))")
                    }
                    if r.prompt != rowsPrompt {
                        space.rows(a: r.a, b: r.b, into: &rows)
                        rowsPrompt = r.prompt
                    }
                    if r.advantageTokens.isEmpty {
                        for j in 0..<L { advantages[j] = r.advantage }
                    } else {
                        for j in 0..<L { advantages[j] = r.advantageTokens[j] }
                    }
                    rollouts += 1
                    if isPositive { positiveRollouts += 1 }
                    if streaming {
                        single.add(rows: rows, tokens: r.tokens, logp: r.logp, advantages: advantages, positive: isPositive)
                    } else {
                        batch.append(prompt: r.prompt, sample: r.sample, reward: r.reward, positive: isPositive,
                                     rows: rows, tokens: r.tokens, logp: r.logp, advantages: advantages)
                    }
                    if let c = critic {
                        if isPositive { criticVisits.positive.add(critic: c, rows: rows, reward: r.reward) }
                        else { criticVisits.negative.add(critic: c, rows: rows, reward: r.reward) }
                    }
                }
            }
        }

        let scale = 1 / Double(config.group * L)
        let minibatches = streaming ? [] : batch.minibatches(M, seed: config.seed, step: step)
        var sum = (total: [Double](repeating: 0, count: policy.logits.count), psr: [Double](repeating: 0, count: policy.logits.count),
                   nsr: [Double](repeating: 0, count: policy.logits.count))
        var tokens = 0, clipped = 0, covSelected = 0, factorSum = 0.0, factorCount = 0, clippedSteps = 0
        var scratch = StepBatch.Scratch()
        for b in 0..<M {
            var gradient: MinibatchGradient
            if streaming {
                gradient = single
            } else {
                gradient = MinibatchGradient(policy: policy, options: options)
                let selection = gradient.selection(batch: batch, minibatch: minibatches[b], seed: config.seed, step: step, index: b)
                batch.add(minibatch: minibatches[b], to: &gradient, selection: selection, scratch: &scratch)
            }
            var result = gradient.gradient(scale: scale, baseLogProbabilities: baseLogPi)
            for i in sum.total.indices {
                sum.total[i] += result.total[i]
                sum.psr[i] += result.psr[i]
                sum.nsr[i] += result.nsr[i]
            }
            tokens += gradient.tokens
            clipped += gradient.clipped
            covSelected += gradient.covSelected
            factorSum += gradient.factorSum
            factorCount += gradient.factorCount
            if clipGradientNorm(&result.total, limit: config.gradClip) > (config.gradClip ?? .infinity) { clippedSteps += 1 }
            state.step(parameters: &policy.logits, gradient: result.total, learningRate: config.learningRate,
                       weightDecay: config.weightDecay)
            for (i, z) in policy.logits.enumerated() where !(abs(z) <= TabularPolicy.maxLogit) {
                throw ValenceError.badData(path: env.layout.path(policyFile), line: nil,
                                           detail: "update produced logit \(z) in row \(i / 10) (\(space.label(row: i / 10))), outside [-1e6, 1e6]; lower the learning rate")
            }
        }
        if var c = critic {
            var visits = criticVisits.positive
            for r in 0..<space.rowCount {
                visits.residualSums[r] += criticVisits.negative.residualSums[r]
                visits.counts[r] += criticVisits.negative.counts[r]
            }
            c.update(with: visits, learningRate: config.criticLearningRate)
            critic = c
        }

        // The three tables are written at once: the policy and the optimizer state on other
        // threads, the gradient parts on this one. In-process the policy and the parts go to the
        // write-behind queue once encoded (``WriteBehind``), the manifest waits there for the
        // optimizer state (``DeferredManifests``), and the next parts take all three tables from
        // memory. Errors come in the order the files are listed, as writing them one after the
        // other would give them.
        let policyPath = env.layout.path(RunLayout.policy(step)), statePath = env.layout.path(RunLayout.optimizerState(step))
        let finalPolicy = policy, finalState = state, writes = env.writes
        let policyWrite = BackgroundJob { try finalPolicy.write(to: policyPath, writeBehind: writes) }
        let stateWrite = BackgroundJob { try finalState.write(to: statePath, space: space) }
        env.files.insert(finalState, path: statePath, variant: config.optimizer.rawValue, writing: stateWrite)
        let parts = GradientParts(space: space, psr: sum.psr, nsr: sum.nsr)
        let partsWrite = Result { try parts.write(to: env.layout.path(GradientParts.file(step)), writeBehind: writes) }
        let p: ShardSummary
        do { p = try policyWrite.wait() } catch {
            // Not before the optimizer state's thread is done with its file (its error comes second).
            _ = try? stateWrite.wait()
            throw error
        }
        // Any later failure waits for the optimizer state first: its error comes before theirs.
        func after<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch { _ = try stateWrite.wait(); throw error }
        }
        let g = try after { try partsWrite.get() }
        let c = try after { try critic.map { try $0.write(to: env.layout.path(RunLayout.critic(step))) } }
        // What was written reads back as exactly these values (shortest round-trip numbers): the
        // next generate, eval and update take them from memory when they run in this process.
        env.files.insert(policy, path: env.layout.path(RunLayout.policy(step)), written: p)
        // The step's PSR and NSR parts, for eval's entropy directions (docs/model.md 9).
        env.files.insert(parts, path: env.layout.path(GradientParts.file(step)), variant: GradientParts.cacheVariant, written: g)
        let policyOutput = Manifest.Output(path: RunLayout.policy(step), schema: .policy, p)
        let laterOutputs = [Manifest.Output(path: GradientParts.file(step), schema: .gradient, g)]
            + (c.map { [Manifest.Output(path: RunLayout.critic(step), schema: .critic, $0)] } ?? [])
        // (The optimizer state's ParsedFiles value, recorded above, takes its digest from stateWrite.)
        let stateOutput = RunLayout.optimizerState(step)
        let completion: @Sendable () throws -> [Manifest.Output] = {
            [policyOutput, Manifest.Output(path: stateOutput, schema: .adam, try stateWrite.wait())] + laterOutputs
        }
        var stats = UpdateStats(t: state.t)
        stats.gradNorm = frobeniusNorm(sum.total)
        stats.gradNormPSR = frobeniusNorm(sum.psr)
        stats.gradNormNSR = frobeniusNorm(sum.nsr)
        stats.visitsPSR = positiveRollouts * L
        stats.visitsNSR = (rollouts - positiveRollouts) * L
        if M > 1 { stats.minibatches = M }
        if options.clipLow != nil { stats.clipFraction = tokens > 0 ? Double(clipped) / Double(tokens) : 0 }
        if config.gradClip != nil { stats.gradClippedSteps = clippedSteps }
        if options.loss.usesRolloutFactor { stats.toprMeanWeight = factorCount > 0 ? factorSum / Double(factorCount) : 1 }
        if options.klCov != nil { stats.klCovTokens = covSelected }
        if options.clipCov != nil { stats.clipCovTokens = covSelected }
        return StageProduct(
            outputs: [policyOutput] + laterOutputs, stats: stats, completion: completion,
            summary: "step \(step): |g| = \(formatNumber(stats.gradNorm, decimals: 5)) (psr \(formatNumber(stats.gradNormPSR, decimals: 5)), nsr \(formatNumber(stats.gradNormNSR, decimals: 5)))" + (M > 1 ? ", \(M) minibatches" : ""))
    }
}
