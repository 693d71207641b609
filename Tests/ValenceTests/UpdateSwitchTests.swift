import Foundation
import Testing
@testable import Valence

/// The update's switches (docs/model.md 5.7): the PPO-clip, entropy and KL gradients against finite
/// differences, and M = 1 without clipping reproducing the plain step bit for bit.
@Suite struct UpdateSwitchTests {
    struct Sample {
        var rows: [Int]
        var tokens: [Int]
        var logp: [Double]
        var advantages: [Double]
        var positive: Bool
    }

    static let space = try! ContextSpace(task: AddTask(digits: 1), window: 0)

    static func randomLogits(_ rng: inout CounterRNG, scale: Double) -> [Double] {
        (0..<(space.rowCount * 10)).map { _ in (rng.unit() * 2 - 1) * scale }
    }

    /// Rollouts sampled from `generating` on a few prompts, with mixed advantages.
    static func samples(from generating: TabularPolicy, count: Int, seed: UInt64) -> [Sample] {
        var rng = CounterRNG(seed: seed, purpose: .rollout)
        let pi = generating.probabilities(), logPi = generating.logProbabilities()
        var out: [Sample] = []
        for i in 0..<count {
            let a = i % 4, b = (i / 4) % 3 + 5
            let rows = space.rows(a: a, b: b)
            var tokens: [Int] = [], logp: [Double] = []
            for r in rows {
                let u = rng.unit()
                var k = 0, acc = pi[r * 10]
                while k < 9 && u >= acc { k += 1; acc += pi[r * 10 + k] }
                tokens.append(k)
                logp.append(logPi[r * 10 + k])
            }
            let positive = i % 3 == 0
            let adv = positive ? [0.7, 1.3] : [-1.0, -0.4]
            out.append(Sample(rows: rows, tokens: tokens, logp: logp, advantages: adv, positive: positive))
        }
        return out
    }

    /// J(z) = scale * sum_ij surrogate_ij + cH * mean_visits H(pi[c]) - cKL * mean_visits KL(pi[c] || base[c]).
    static func objective(_ z: [Double], _ samples: [Sample], options: UpdateOptions, scale: Double, base: [Double]) -> Double {
        let p = TabularPolicy(space: space, logits: z)
        let pi = p.probabilities(), logPi = p.logProbabilities()
        var j = 0.0, h = 0.0, kl = 0.0, n = 0.0
        for s in samples {
            for t in s.rows.indices {
                let r = s.rows[t], index = r * 10 + s.tokens[t]
                let rho = exp(logPi[index] - s.logp[t])
                let a = s.advantages[t]
                if let eps = options.clip {
                    j += min(rho * a, min(max(rho, 1 - eps), 1 + eps) * a)
                } else {
                    j += rho * a
                }
                for k in 0..<10 {
                    h -= pi[r * 10 + k] * logPi[r * 10 + k]
                    kl += pi[r * 10 + k] * (logPi[r * 10 + k] - base[r * 10 + k])
                }
                n += 1
            }
        }
        return scale * j + options.entropyCoef * h / n - options.klCoef * kl / n
    }

    func checkAgainstFiniteDifferences(options: UpdateOptions, seed: UInt64) throws -> MinibatchGradient {
        var rng = CounterRNG(seed: seed, purpose: .evalSample)
        let current = Self.randomLogits(&rng, scale: 1)
        var gen = current
        for i in gen.indices { gen[i] += (rng.unit() * 2 - 1) * 0.6 }
        let base = TabularPolicy(space: Self.space, logits: Self.randomLogits(&rng, scale: 1)).logProbabilities()
        let samples = Self.samples(from: TabularPolicy(space: Self.space, logits: gen), count: 24, seed: seed)
        let scale = 1.0 / 16
        var g = MinibatchGradient(policy: TabularPolicy(space: Self.space, logits: current), options: options)
        for s in samples { g.add(rows: s.rows, tokens: s.tokens, logp: s.logp, advantages: s.advantages, positive: s.positive) }
        let analytic = g.gradient(scale: scale, baseLogProbabilities: base).total
        let visited = Set(samples.flatMap(\.rows))
        let h = 1e-6
        var worst = 0.0
        for r in visited.sorted() {
            for k in 0..<10 {
                var up = current, down = current
                up[r * 10 + k] += h
                down[r * 10 + k] -= h
                let fd = (Self.objective(up, samples, options: options, scale: scale, base: base)
                          - Self.objective(down, samples, options: options, scale: scale, base: base)) / (2 * h)
                worst = max(worst, abs(fd - analytic[r * 10 + k]))
            }
        }
        #expect(worst < 1e-7, "largest |finite difference - gradient| = \(worst)")
        // Rows never visited get exactly 0.
        for r in 0..<Self.space.rowCount where !visited.contains(r) {
            #expect(analytic[(r * 10)..<(r * 10 + 10)].allSatisfy { $0 == 0 })
        }
        return g
    }

    @Test func ppoClipGradientMatchesFiniteDifferencesIncludingClippedTokens() throws {
        var options = UpdateOptions()
        options.clip = 0.2
        let g = try checkAgainstFiniteDifferences(options: options, seed: 11)
        // The data must exercise both branches.
        #expect(g.clipped > 0)
        #expect(g.clipped < g.tokens)
    }

    @Test func importanceWeightedGradientWithoutClipMatchesFiniteDifferences() throws {
        let g = try checkAgainstFiniteDifferences(options: UpdateOptions(), seed: 12)
        #expect(g.clipped == 0)
    }

    @Test func entropyAndKLTermsMatchFiniteDifferences() throws {
        var options = UpdateOptions()
        options.clip = 0.1
        options.entropyCoef = 0.3
        options.klCoef = 0.7
        _ = try checkAgainstFiniteDifferences(options: options, seed: 13)
    }

    /// The plain step as UpdateStage computed it before the switches: S - T pi per part, PSR + NSR.
    static func plainGradient(_ samples: [Sample], policy: TabularPolicy, scale: Double) -> [Double] {
        var positive = GradientAccumulator(rowCount: space.rowCount)
        var negative = GradientAccumulator(rowCount: space.rowCount)
        for s in samples {
            for j in s.rows.indices {
                if s.positive { positive.add(row: s.rows[j], token: s.tokens[j], advantage: s.advantages[0]) }
                else { negative.add(row: s.rows[j], token: s.tokens[j], advantage: s.advantages[0]) }
            }
        }
        let pi = policy.probabilities()
        var g = positive.gradient(probabilities: pi, scale: scale)
        let n = negative.gradient(probabilities: pi, scale: scale)
        for i in g.indices { g[i] += n[i] }
        return g
    }

    @Test(arguments: [OptimizerKind.sgd, .adam])
    func oneMinibatchWithoutClipIsThePlainStepBitForBit(_ kind: OptimizerKind) throws {
        var rng = CounterRNG(seed: 21, purpose: .evalSample)
        let policy = TabularPolicy(space: Self.space, logits: Self.randomLogits(&rng, scale: 2))
        // On-policy samples, one advantage per rollout, like the weight stage writes.
        var samples = Self.samples(from: policy, count: 40, seed: 21)
        for i in samples.indices {
            let a = samples[i].positive ? 0.1 : -1.0
            samples[i].advantages = [a, a]
        }
        let scale = 1.0 / 16
        let plain = Self.plainGradient(samples, policy: policy, scale: scale)

        // Streaming (M = 1).
        var streamed = MinibatchGradient(policy: policy, options: UpdateOptions())
        for s in samples { streamed.add(rows: s.rows, tokens: s.tokens, logp: s.logp, advantages: s.advantages, positive: s.positive) }
        let result = streamed.gradient(scale: scale)
        #expect(result.total == plain)

        // Held in a StepBatch, added in shuffled shard order, one minibatch.
        var batch = StepBatch(length: 2)
        for i in samples.indices.reversed() {
            let s = samples[i]
            batch.append(prompt: i, sample: 0, reward: s.positive ? 1 : 0, positive: s.positive,
                         rows: s.rows, tokens: s.tokens, logp: s.logp, advantages: s.advantages)
        }
        let parts = batch.minibatches(1, seed: 5, step: 1)
        #expect(parts == [Array((0..<samples.count).reversed())])
        var held = MinibatchGradient(policy: policy, options: UpdateOptions())
        var scratch = StepBatch.Scratch()
        for i in parts[0] { batch.add(i, to: &held, scratch: &scratch) }
        #expect(held.gradient(scale: scale).total == plain)

        // And the optimizer step that follows is the same.
        var z1 = policy.logits, z2 = policy.logits
        var s1 = OptimizerState(kind: kind, parameterCount: z1.count), s2 = s1
        s1.step(parameters: &z1, gradient: plain, learningRate: kind.defaultLearningRate)
        s2.step(parameters: &z2, gradient: result.total, learningRate: kind.defaultLearningRate)
        #expect(z1 == z2)

        // The clip and topr machinery is inert on-policy too: every ratio is exactly 1.
        var clipped = UpdateOptions()
        clipped.clip = 0.2
        var c = MinibatchGradient(policy: policy, options: clipped)
        for s in samples { c.add(rows: s.rows, tokens: s.tokens, logp: s.logp, advantages: s.advantages, positive: s.positive) }
        #expect(c.gradient(scale: scale).total == plain)
        #expect(c.clipped == 0)
    }

    @Test func minibatchesPartitionTheStepDeterministically() {
        var batch = StepBatch(length: 2)
        for p in 0..<10 {
            for s in 0..<3 {
                batch.append(prompt: p, sample: s, reward: 0, positive: false, rows: [0, 1], tokens: [0, 0], logp: [0, 0], advantages: [-1, -1])
            }
        }
        let parts = batch.minibatches(4, seed: 9, step: 3)
        #expect(parts.count == 4)
        #expect(parts.map(\.count) == [7, 8, 7, 8])
        #expect(parts.flatMap { $0 }.sorted() == Array(0..<30))
        for part in parts { #expect(part == part.sorted()) }
        #expect(batch.minibatches(4, seed: 9, step: 3) == parts)
        #expect(batch.minibatches(4, seed: 9, step: 4) != parts)
    }
}
