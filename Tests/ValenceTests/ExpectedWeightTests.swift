import Foundation
import Testing
@testable import Valence

/// docs/model.md 8's expected weights against brute-force enumeration of every reward pattern, the closed
/// forms, the Binomial pmf, and the expected gradient against the mean of sampled gradients.
@Suite struct ExpectedWeightTests {
    static let probabilities = [1e-3, 0.03, 0.3, 0.5, 0.85, 0.999]

    /// E over all 2^G reward patterns of (1/G) sum_i A(r_i, c) * score_i, where score_i is 1 for a
    /// correct rollout (its score is s_x) and -p / (1 - p) for a wrong one (E[score | wrong] =
    /// -p s_x / (1 - p)); split by r_i into the PSR and NSR parts.
    static func bruteForce(p: Double, group G: Int, filter: Bool, advantage: (Int, Int) -> Double) -> (psr: Double, nsr: Double) {
        var psr = 0.0, nsr = 0.0
        for pattern in 0..<(1 << G) {
            let c = pattern.nonzeroBitCount
            let probability = pow(p, Double(c)) * pow(1 - p, Double(G - c))
            for i in 0..<G {
                let r = (pattern >> i) & 1
                let a = filter && (c == 0 || c == G) ? 0 : advantage(r, c)
                if r == 1 { psr += probability * a / Double(G) }
                else { nsr += probability * a * (-p / (1 - p)) / Double(G) }
            }
        }
        return (psr, nsr)
    }

    static func close(_ x: Double, _ y: Double, _ tolerance: Double = 1e-12) -> Bool {
        abs(x - y) <= tolerance * max(1, abs(y))
    }

    @Test(arguments: Objective.allCases)
    func everyObjectiveAgreesWithEnumeration(objective: Objective) {
        for G in 2...6 {
            for filter in [false, true] {
                var config = RunConfig()
                config.objective = objective
                config.group = G
                config.filterGroups = filter
                // passk needs k <= G: skip the group sizes an objective refuses.
                if (try? config.objective.validate(config)) == nil { continue }
                let rule = ExpectedWeight.advantageRule(config)
                for p in Self.probabilities {
                    let w = ExpectedWeight.of(p: p, config: config)
                    let brute = Self.bruteForce(p: p, group: G, filter: filter, advantage: rule)
                    #expect(Self.close(w.psr, brute.psr), "\(objective.rawValue) G \(G) filter \(filter) p \(p): psr \(w.psr) vs \(brute.psr)")
                    #expect(Self.close(w.nsr, brute.nsr), "\(objective.rawValue) G \(G) filter \(filter) p \(p): nsr \(w.nsr) vs \(brute.nsr)")
                }
            }
        }
    }

    /// docs/model.md 8's closed forms, independent of the Binomial sum: p for psr, nsr, rloo and ppo; 2p for
    /// reinforce and topr; (1 + lambda) p for w-reinforce; (1 - 1/G) p for dr-grpo.
    @Test func closedForms() {
        for G in [2, 3, 8, 64, 128] {
            for p in Self.probabilities {
                func w(_ o: Objective, lambda: Double = 0.1) -> Double {
                    var c = RunConfig()
                    c.objective = o
                    c.group = G
                    c.lambda = lambda
                    return ExpectedWeight.of(p: p, config: c).total
                }
                for o in [Objective.psr, .nsr, .rloo, .ppo] { #expect(Self.close(w(o), p), "\(o.rawValue) G \(G) p \(p)") }
                #expect(Self.close(w(.reinforce), 2 * p))
                #expect(Self.close(w(.topr), 2 * p))
                #expect(Self.close(w(.wReinforce, lambda: 0.1), 1.1 * p))
                #expect(Self.close(w(.wReinforce, lambda: 0.37), 1.37 * p))
                #expect(Self.close(w(.drGrpo), (1 - 1 / Double(G)) * p))
            }
        }
    }

    /// psr's weight is all PSR, nsr's all NSR; their sum is the same (a constant reward shift).
    @Test func partsOfPsrAndNsr() {
        for p in Self.probabilities {
            var c = RunConfig()
            c.objective = .psr
            let psr = ExpectedWeight.of(p: p, config: c)
            c.objective = .nsr
            let nsr = ExpectedWeight.of(p: p, config: c)
            #expect(psr.nsr == 0 && Self.close(psr.psr, p))
            #expect(nsr.psr == 0 && Self.close(nsr.nsr, p))
        }
    }

    /// ppo's per-token baseline drops out: enumeration with A = r - b for any constant b gives p.
    @Test func ppoBaselineHasNoExpectedEffect() {
        for b in [0.0, 0.37, -1.2] {
            for p in Self.probabilities {
                let brute = Self.bruteForce(p: p, group: 4, filter: false) { r, _ in Double(r) - b }
                #expect(Self.close(brute.psr + brute.nsr, p), "b \(b) p \(p)")
            }
        }
    }

    /// Group filtering removes exactly the uniform groups' share: for psr that is p * p^(G-1).
    @Test func filteringDropsUniformGroups() {
        var c = RunConfig()
        c.objective = .psr
        c.filterGroups = true
        for G in [2, 8, 128] {
            c.group = G
            for p in [0.1, 0.5, 0.9] {
                #expect(Self.close(ExpectedWeight.of(p: p, config: c).total, p - pow(p, Double(G))))
            }
        }
    }

    @Test func binomialIsStableForLargeGroupsAndTinyP() {
        for n in [0, 1, 7, 63, 127, 1000] {
            for p in [0.0, 1e-300, 1e-12, 0.013, 0.5, 0.97, 1 - 1e-12, 1.0] {
                let pmf = Binomial.pmf(n: n, p: p)
                #expect(pmf.allSatisfy { $0.isFinite && $0 >= 0 })
                #expect(abs(pmf.reduce(0, +) - 1) < 1e-12, "n \(n) p \(p)")
                let mean = pmf.enumerated().reduce(0.0) { $0 + Double($1.offset) * $1.element }
                #expect(abs(mean - Double(n) * p) <= 1e-10 * max(1, Double(n) * p), "n \(n) p \(p)")
            }
        }
        // Exact small cases: C(4, k) p^k q^(4-k) at p = 1/4.
        let pmf = Binomial.pmf(n: 4, p: 0.25)
        let exact = [81.0, 108, 54, 12, 1].map { $0 / 256 }
        for k in 0...4 { #expect(abs(pmf[k] - exact[k]) < 1e-15) }
        // Tiny p at G = 128: P(0) = (1 - p)^127, P(1) = 127 p (1 - p)^126.
        let tiny = Binomial.pmf(n: 127, p: 1e-200)
        #expect(tiny[0] == 1)
        #expect(abs(tiny[1] / 1.27e-198 - 1) < 1e-13)
    }

    /// The expected gradient of a step (fixed prompts, G = 4) against the mean of N sampled step
    /// gradients under the sampled pipeline's accumulator. Tolerance: every coordinate within 5
    /// standard errors of the mean (the standard error from the N samples' own spread; with a few
    /// hundred coordinates a miss has probability ~1e-4 for a correct implementation, and the
    /// fixed seed makes the test deterministic), and the relative error of the whole table within
    /// 3 sqrt(sum of variances / N) / |g|.
    @Test(arguments: [Objective.psr, .nsr, .wReinforce, .grpo, .rloo])
    func expectedGradientIsTheMeanOfSampledGradients(objective: Objective) throws {
        let space = try ContextSpace(task: AddTask(digits: 1), window: 0)
        let L = space.length, G = 4
        var config = RunConfig()
        config.digits = 1
        config.objective = objective
        config.group = G
        // A policy that puts most of each row's mass near the right answer, so p_x spans (0.05, 0.9).
        var rng = CounterRNG(seed: 11, purpose: .evalSample)
        var logits = (0..<(space.rowCount * 10)).map { _ in rng.unit() * 2 - 1 }
        let prompts: [(a: Int, b: Int)] = [(3, 4), (9, 9), (5, 5), (0, 7), (2, 8), (6, 1)]
        var rows: [Int] = []
        for (i, (a, b)) in prompts.enumerated() {
            space.rows(a: a, b: b, into: &rows)
            for j in 0..<L { logits[rows[j] * 10 + space.task.digit(a + b, at: j)] += 1.5 + Double(i) * 0.4 }
        }
        let policy = TabularPolicy(space: space, logits: logits)
        let pi = policy.probabilities()

        var expected = ExpectedGradient(rowCount: space.rowCount)
        for (a, b) in prompts {
            space.rows(a: a, b: b, into: &rows)
            let answer = (0..<L).map { space.task.digit(a + b, at: $0) }
            var p = 1.0
            for j in 0..<L { p *= pi[rows[j] * 10 + answer[j]] }
            expected.add(rows: rows, answer: answer, weight: ExpectedWeight.of(p: p, config: config))
        }
        let g = expected.gradient(probabilities: pi, scale: 1 / Double(L)).total

        let trials = 20_000
        var sum = [Double](repeating: 0, count: g.count), squares = sum
        for t in 0..<trials {
            var acc = GradientAccumulator(rowCount: space.rowCount)
            for (id, (a, b)) in prompts.enumerated() {
                space.rows(a: a, b: b, into: &rows)
                var tokens: [[Int]] = []
                var rewards: [Int] = []
                for s in 0..<G {
                    var r = CounterRNG(seed: 5, purpose: .rollout, UInt64(t), UInt64(id), UInt64(s))
                    let y = (0..<L).map { j -> Int in
                        let u = r.unit()
                        var acc = 0.0
                        for k in 0..<10 { acc += pi[rows[j] * 10 + k]; if u < acc { return k } }
                        return 9
                    }
                    tokens.append(y)
                    rewards.append(y == (0..<L).map { space.task.digit(a + b, at: $0) } ? 1 : 0)
                }
                let c = rewards.reduce(0, +)
                for s in 0..<G {
                    let adv = objective.advantage(reward: rewards[s], correct: c, groupSize: G, lambda: config.lambda)
                    for j in 0..<L { acc.add(row: rows[j], token: tokens[s][j], advantage: adv) }
                }
            }
            let sampled = acc.gradient(probabilities: pi, scale: 1 / Double(G * L))
            for i in sampled.indices {
                sum[i] += sampled[i]
                squares[i] += sampled[i] * sampled[i]
            }
        }
        let n = Double(trials)
        var worst = 0.0, errorSquared = 0.0, varianceSum = 0.0
        for i in g.indices {
            let mean = sum[i] / n
            let variance = max(0, squares[i] / n - mean * mean)
            varianceSum += variance
            errorSquared += (mean - g[i]) * (mean - g[i])
            if variance > 0 { worst = max(worst, abs(mean - g[i]) / (variance / n).squareRoot()) }
            else { #expect(abs(mean - g[i]) < 1e-12, "coordinate \(i) never moves when sampled but the expectation is \(g[i])") }
        }
        #expect(worst < 5, "\(objective.rawValue): largest deviation \(worst) standard errors")
        #expect(errorSquared.squareRoot() < 3 * (varianceSum / n).squareRoot(), "\(objective.rawValue): |mean - g| too large")
        #expect(frobeniusNorm(g) > 10 * (varianceSum / n).squareRoot(), "the test must resolve g from zero")
    }
}
