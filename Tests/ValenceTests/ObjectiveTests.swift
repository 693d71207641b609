import Foundation
import Testing
@testable import Valence

/// The advantages of dr-grpo, topr and ppo on hand-computed groups, TOPR's truncation and the
/// tabular critic.
@Suite struct ObjectiveTests {
    @Test func drGrpoSubtractsTheGroupMeanOnly() {
        // G = 4 with one correct: mean 0.25, no division by the std.
        #expect(Objective.drGrpo.advantage(reward: 1, correct: 1, groupSize: 4, lambda: 0.1) == 0.75)
        #expect(Objective.drGrpo.advantage(reward: 0, correct: 1, groupSize: 4, lambda: 0.1) == -0.25)
        #expect(Objective.drGrpo.advantage(reward: 1, correct: 3, groupSize: 4, lambda: 0.1) == 0.25)
        // Uniform groups give 0.
        #expect(Objective.drGrpo.advantage(reward: 1, correct: 4, groupSize: 4, lambda: 0.1) == 0)
        #expect(Objective.drGrpo.advantage(reward: 0, correct: 0, groupSize: 4, lambda: 0.1) == 0)
    }

    @Test func toprWeighsLikeReinforceBeforeTheRatio() {
        for correct in 0...8 {
            #expect(Objective.topr.advantage(reward: 1, correct: correct, groupSize: 8, lambda: 0.1) == 1)
            #expect(Objective.topr.advantage(reward: 0, correct: correct, groupSize: 8, lambda: 0.1) == -1)
        }
    }

    @Test func toprWeightIsTheRatioClippedAtOne() {
        #expect(TOPR.weight(logRatio: 0) == 1)
        #expect(abs(TOPR.weight(logRatio: log(0.5)) - 0.5) < 1e-15)
        #expect(abs(TOPR.weight(logRatio: log(0.01)) - 0.01) < 1e-15)
        #expect(TOPR.weight(logRatio: log(2.0)) == 1)
        #expect(TOPR.weight(logRatio: 50) == 1)
    }

    /// One negative rollout whose whole-response ratio is r: TOPR's gradient is min(1, r) times
    /// reinforce's (no per-token ratio), and a positive one is never reweighted.
    @Test func toprGradientScalesNegativesByTheTruncatedRatio() throws {
        let space = try ContextSpace(task: AddTask(digits: 1), window: 0)
        var rng = CounterRNG(seed: 7, purpose: .evalSample)
        let policy = TabularPolicy(space: space, logits: (0..<(space.rowCount * 10)).map { _ in rng.unit() * 2 - 1 })
        let logPi = policy.logProbabilities()
        let rows = space.rows(a: 3, b: 8), tokens = [1, 1]
        let current = rows.indices.map { logPi[rows[$0] * 10 + tokens[$0]] }
        let plain = UpdateOptions()
        var topr = UpdateOptions()
        topr.loss = TOPR()
        for (ratio, expected) in [(0.25, 0.25), (0.5, 0.5), (1.0, 1.0), (4.0, 1.0)] {
            // The generating policy gave the response probability pi_theta(y) / ratio: split over positions.
            let logp = current.map { $0 - log(ratio) / 2 }
            var reference = MinibatchGradient(policy: policy, options: plain)
            reference.add(rows: rows, tokens: tokens, logp: current, advantages: [-1, -1], positive: false)
            var g = MinibatchGradient(policy: policy, options: topr)
            g.add(rows: rows, tokens: tokens, logp: logp, advantages: [-1, -1], positive: false)
            let a = reference.gradient(scale: 0.25).total, b = g.gradient(scale: 0.25).total
            for i in a.indices { #expect(abs(b[i] - expected * a[i]) < 1e-12) }
            #expect(abs(g.factorSum - expected) < 1e-12)
            // A positive sample keeps weight 1 whatever the ratio.
            var p = MinibatchGradient(policy: policy, options: topr)
            p.add(rows: rows, tokens: tokens, logp: logp, advantages: [1, 1], positive: true)
            var pr = MinibatchGradient(policy: policy, options: plain)
            pr.add(rows: rows, tokens: tokens, logp: current, advantages: [1, 1], positive: true)
            #expect(p.gradient(scale: 0.25).total == pr.gradient(scale: 0.25).total)
        }
    }

    @Test func ppoAdvantageIsRewardMinusValuePerToken() throws {
        let space = try ContextSpace(task: AddTask(digits: 3), window: 0)
        var critic = Critic(space: space)
        let rows = space.rows(a: 345, b: 789)
        critic.values[rows[0]] = 0.25
        critic.values[rows[1]] = -0.5
        critic.values[rows[3]] = 0.75
        var out: [Double] = []
        critic.advantages(reward: 1, rows: rows, into: &out)
        #expect(out == [0.75, 1.5, 1, 0.25])
        critic.advantages(reward: 0, rows: rows, into: &out)
        #expect(out == [-0.25, 0.5, 0, -0.75])
        #expect(Objective.ppo.advantage(reward: 1, correct: 3, groupSize: 8, lambda: 0.1) == 1)
        #expect(Objective.ppo.hasTokenAdvantages && !Objective.grpo.hasTokenAdvantages)
    }

    /// V[c] += lr * mean over the step's visits of c of (r - V[c]), from V = 0.
    @Test func criticUpdateIsTheMeanResidualStep() throws {
        let space = try ContextSpace(task: AddTask(digits: 1), window: 0)
        var critic = Critic(space: space)
        critic.values[5] = 0.2
        var visits = Critic.Visits(rowCount: space.rowCount)
        for r in [1, 0, 1, 1] { visits.add(critic: critic, rows: [5, 7], reward: r) }
        critic.update(with: visits, learningRate: 0.5)
        // Row 5: residuals 0.8, -0.2, 0.8, 0.8 -> mean 0.55 -> 0.2 + 0.275. Row 7: mean 0.75 -> 0.375.
        #expect(abs(critic.values[5] - 0.475) < 1e-15)
        #expect(abs(critic.values[7] - 0.375) < 1e-15)
        #expect(critic.values[6] == 0)
    }

    /// On a synthetic stream where a context's reward is Bernoulli(0.3), V settles at 0.3.
    @Test func criticConvergesToTheContextsMeanReward() throws {
        let space = try ContextSpace(task: AddTask(digits: 1), window: 0)
        var critic = Critic(space: space)
        var rng = CounterRNG(seed: 3, purpose: .evalSample)
        var tail: [Double] = []
        for step in 0..<600 {
            var visits = Critic.Visits(rowCount: space.rowCount)
            for _ in 0..<20 {
                visits.add(critic: critic, rows: [11], reward: rng.unit() < 0.3 ? 1 : 0)
                visits.add(critic: critic, rows: [12], reward: 1)
            }
            critic.update(with: visits, learningRate: 0.1)
            if step >= 200 { tail.append(critic.values[11]) }
        }
        let mean = tail.reduce(0, +) / Double(tail.count)
        #expect(abs(mean - 0.3) < 0.02)
        #expect(abs(critic.values[12] - 1) < 1e-12)
        #expect(critic.values[13] == 0)
    }

    @Test func criticFileRoundTrips() throws {
        let space = try ContextSpace(task: AddTask(digits: 1), window: 1)
        var critic = Critic(space: space)
        for i in critic.values.indices { critic.values[i] = Double(i % 7) / 8 - 0.3 }
        let dir = TestSupport.temporaryDirectory("valence-critic")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try critic.write(to: "\(dir)/critic.jsonl.zst")
        #expect(try Critic.read(from: "\(dir)/critic.jsonl.zst", space: space) == critic)
        let first = try TestSupport.zstdLines("\(dir)/critic.jsonl.zst").first ?? ""
        #expect(first.contains("\"schema\":\"valence.critic/1\"") && first.contains("\"ctx\":\"j0 a0 b0 h0\""))
    }

    @Test func adamwTakesOneHandComputedStep() {
        var state = OptimizerState(kind: .adamw, parameterCount: 3)
        var z = [1.0, -2.0, 0.5]
        let g = [0.5, 0.0, -0.25]
        state.step(parameters: &z, gradient: g, learningRate: 0.1, weightDecay: 0.01)
        // t = 1: m_hat = g, v_hat = g^2, so the Adam step is lr * g / (|g| + eps); decay first: z (1 - lr wd).
        #expect(abs(z[0] - (1.0 * 0.999 + 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-15)
        #expect(abs(z[0] - 1.098999998) < 1e-12)
        #expect(abs(z[1] - (-2.0 * 0.999)) < 1e-15)
        #expect(abs(z[2] - (0.5 * 0.999 - 0.1 * 0.25 / (0.25 + 1e-8))) < 1e-15)
        #expect(state.t == 1)
        // With no weight decay adamw is adam.
        var a = OptimizerState(kind: .adam, parameterCount: 3), w = OptimizerState(kind: .adamw, parameterCount: 3)
        var za = [1.0, -2.0, 0.5], zw = za
        a.step(parameters: &za, gradient: g, learningRate: 0.1)
        w.step(parameters: &zw, gradient: g, learningRate: 0.1, weightDecay: 0)
        #expect(za == zw)
    }

    @Test func gradientNormClipping() {
        var g = [3.0, 4.0]
        #expect(clipGradientNorm(&g, limit: 1) == 5)
        #expect(abs(g[0] - 0.6) < 1e-15 && abs(g[1] - 0.8) < 1e-15)
        var h = [0.3, 0.4]
        clipGradientNorm(&h, limit: 1)
        #expect(h == [0.3, 0.4])
        clipGradientNorm(&h, limit: nil)
        #expect(h == [0.3, 0.4])
    }
}
