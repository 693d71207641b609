import Testing
@testable import Valence

/// Sampled Pass@k (unbiased estimator) against the exact value from the table.
@Suite struct SampledPassAtKTests {
    static func policy() throws -> TabularPolicy {
        let space = try ContextSpace(task: try AddTask(digits: 1), window: 0)
        var policy = TabularPolicy.uniform(space: space)
        var rng = CounterRNG(seed: 7, purpose: .corpus)
        for i in policy.logits.indices { policy.logits[i] = rng.unit() * 4 }
        // Lean towards the right digits so Pass@k spans the whole range over k = 1...256.
        for a in 0..<10 {
            for b in 0..<10 {
                let rows = space.rows(a: a, b: b)
                for j in 0..<2 { policy.logits[rows[j] * 10 + space.task.digit(a + b, at: j)] += 1.0 }
            }
        }
        return policy
    }

    static let prompts: [(a: Int, b: Int)] = (0..<100).map { (a: $0 / 10, b: $0 % 10) }

    @Test func convergesToExactAsSamplesGrow() throws {
        let policy = try Self.policy()
        let exact = Evaluation.evaluate(policy: policy, prompts: Self.prompts).passAtK
        var errors: [Double] = []
        for n in [256, 1024, 8192] {
            let s = try SampledPassAtK.evaluate(policy: policy, prompts: Self.prompts, temperature: 1, samples: n, seed: 3, step: 0)
            let meanError = zip(s.passAtK, exact).map { abs($0 - $1) }.reduce(0, +) / Double(exact.count)
            errors.append(meanError)
            #expect(abs(s.correctFraction - s.passAtK[0]) < 1e-12, "Pass@1 estimate is the fraction correct")
        }
        #expect(errors[2] < errors[0])
        #expect(errors[2] < 0.004)
        #expect(exact[0] > 0.05 && exact[8] > exact[0] + 0.3, "a policy where Pass@k varies with k: \(exact)")
    }

    @Test func temperatureIsApplied() throws {
        let policy = try Self.policy()
        let cold = try SampledPassAtK.evaluate(policy: policy, prompts: Self.prompts, temperature: 0.25, samples: 2048, seed: 1, step: 0)
        let exactCold = Evaluation.evaluate(policy: policy, prompts: Self.prompts, temperature: 0.25).passAtK
        #expect(abs(cold.passAtK[0] - exactCold[0]) < 0.01)
    }

    @Test func deterministicForASeed() throws {
        let policy = try Self.policy()
        let a = try SampledPassAtK.evaluate(policy: policy, prompts: Self.prompts, temperature: 1, samples: 256, seed: 5, step: 2)
        let b = try SampledPassAtK.evaluate(policy: policy, prompts: Self.prompts, temperature: 1, samples: 256, seed: 5, step: 2)
        let c = try SampledPassAtK.evaluate(policy: policy, prompts: Self.prompts, temperature: 1, samples: 256, seed: 6, step: 2)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func fewerSamplesThanTheLargestKIsAConfigError() throws {
        let policy = try Self.policy()
        #expect(throws: ValenceError.self) {
            try SampledPassAtK.evaluate(policy: policy, prompts: Self.prompts, temperature: 1, samples: 255, seed: 1, step: 0)
        }
        do {
            try SampledPassAtK.validate(samples: 100)
            Issue.record("no error")
        } catch let e as ValenceError {
            #expect(e.exitCode == 78)
        }
    }

    @Test func unbiasedEstimatorEdgeCases() {
        #expect(abs(PassAtK.unbiased(n: 256, c: 64, k: 1) - 0.25) < 1e-12)
        #expect(PassAtK.unbiased(n: 256, c: 0, k: 256) == 0)
        #expect(PassAtK.unbiased(n: 256, c: 1, k: 256) == 1)
    }
}
