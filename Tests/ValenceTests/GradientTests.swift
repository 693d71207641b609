import Testing
@testable import Valence

/// The tabular gradient of J (docs/model.md 5.6) against finite differences, and the advantage table.
@Suite struct GradientTests {
    struct Sample { var a: Int; var b: Int; var tokens: [Int]; var advantage: Double }

    let space = try! ContextSpace(task: try! AddTask(digits: 1), window: 1)

    /// J = (1 / (G L)) sum_i A_i sum_j log pi(y_ij | c_ij), straight from the definition.
    func objective(_ logits: [Double], _ batch: [Sample], group: Int) -> Double {
        let policy = TabularPolicy(space: space, logits: logits)
        let logp = policy.logProbabilities()
        var j = 0.0
        for s in batch {
            let rows = space.rows(a: s.a, b: s.b)
            for (pos, row) in rows.enumerated() { j += s.advantage * logp[row * 10 + s.tokens[pos]] }
        }
        return j / Double(group * space.length)
    }

    func randomBatch(seed: UInt64, count: Int) -> [Sample] {
        var rng = CounterRNG(seed: seed, purpose: .rollout)
        return (0..<count).map { _ in
            Sample(a: rng.below(3), b: rng.below(3), tokens: [rng.below(10), rng.below(10)],
                   advantage: rng.unit() * 2 - 1)
        }
    }

    @Test func gradientMatchesFiniteDifferences() {
        var rng = CounterRNG(seed: 11, purpose: .corpus)
        let logits = (0..<(space.rowCount * 10)).map { _ in rng.unit() * 2 - 1 }
        let batch = randomBatch(seed: 5, count: 40)
        let group = 8
        var acc = GradientAccumulator(rowCount: space.rowCount)
        for s in batch {
            for (pos, row) in space.rows(a: s.a, b: s.b).enumerated() {
                acc.add(row: row, token: s.tokens[pos], advantage: s.advantage)
            }
        }
        let pi = TabularPolicy(space: space, logits: logits).probabilities()
        let g = acc.gradient(probabilities: pi, scale: 1 / Double(group * space.length))
        // Check every entry of every visited row, plus a few unvisited ones (gradient 0).
        var checked = 0
        for i in g.indices where g[i] != 0 || i % 97 == 0 {
            var plus = logits, minus = logits
            let h = 1e-6
            plus[i] += h
            minus[i] -= h
            let numeric = (objective(plus, batch, group: group) - objective(minus, batch, group: group)) / (2 * h)
            #expect(abs(numeric - g[i]) < 1e-8, "entry \(i): analytic \(g[i]) numeric \(numeric)")
            checked += 1
        }
        #expect(checked > 50)
    }

    @Test func psrAndNsrPartsAddUpToReinforce() {
        var rng = CounterRNG(seed: 2, purpose: .batch)
        let logits = (0..<(space.rowCount * 10)).map { _ in rng.unit() }
        let pi = TabularPolicy(space: space, logits: logits).probabilities()
        let batch = randomBatch(seed: 9, count: 30).map { s in
            var s = s
            s.advantage = s.tokens[0] < 5 ? 1 : -1
            return s
        }
        var pos = GradientAccumulator(rowCount: space.rowCount)
        var neg = GradientAccumulator(rowCount: space.rowCount)
        var all = GradientAccumulator(rowCount: space.rowCount)
        for s in batch {
            for (j, row) in space.rows(a: s.a, b: s.b).enumerated() {
                if s.advantage > 0 { pos.add(row: row, token: s.tokens[j], advantage: s.advantage) }
                else { neg.add(row: row, token: s.tokens[j], advantage: s.advantage) }
                all.add(row: row, token: s.tokens[j], advantage: s.advantage)
            }
        }
        let gp = pos.gradient(probabilities: pi, scale: 0.1)
        let gn = neg.gradient(probabilities: pi, scale: 0.1)
        let ga = all.gradient(probabilities: pi, scale: 0.1)
        for i in ga.indices { #expect(abs(gp[i] + gn[i] - ga[i]) < 1e-12) }
        #expect(frobeniusNorm(gp) > 0 && frobeniusNorm(gn) > 0)
    }

    @Test func advantagesFollowTheSpecTable() {
        // A group of G = 4 with rewards 1, 0, 0, 1 (c = 2).
        let G = 4, c = 2
        func adv(_ o: Objective, _ r: Int) -> Double { o.advantage(reward: r, correct: c, groupSize: G, lambda: 0.1) }
        #expect(adv(.psr, 1) == 1 && adv(.psr, 0) == 0)
        #expect(adv(.nsr, 1) == 0 && adv(.nsr, 0) == -1)
        #expect(adv(.reinforce, 1) == 1 && adv(.reinforce, 0) == -1)
        #expect(adv(.wReinforce, 1) == 0.1 && adv(.wReinforce, 0) == -1)
        // grpo: mean 0.5, population std 0.5.
        #expect(abs(adv(.grpo, 1) - 0.5 / (0.5 + 1e-6)) < 1e-15)
        #expect(abs(adv(.grpo, 0) + 0.5 / (0.5 + 1e-6)) < 1e-15)
        // rloo: r - mean of the other three.
        #expect(abs(adv(.rloo, 1) - (1 - 1.0 / 3)) < 1e-15)
        #expect(abs(adv(.rloo, 0) - (0 - 2.0 / 3)) < 1e-15)
        // dr-grpo: r - mean.
        #expect(adv(.drGrpo, 1) == 0.5 && adv(.drGrpo, 0) == -0.5)
    }

    @Test(arguments: [Objective.grpo, .rloo, .drGrpo])
    func uniformGroupsGetZeroAdvantage(_ objective: Objective) {
        for G in [2, 8] {
            #expect(objective.advantage(reward: 1, correct: G, groupSize: G, lambda: 0.1) == 0)
            #expect(objective.advantage(reward: 0, correct: 0, groupSize: G, lambda: 0.1) == 0)
        }
    }

    @Test func grpoOnAnUnevenGroup() {
        // G = 8, c = 1: mean 1/8, std sqrt(7)/8.
        let mean = 1.0 / 8, std = (7.0).squareRoot() / 8
        #expect(abs(Objective.grpo.advantage(reward: 1, correct: 1, groupSize: 8, lambda: 0) - (1 - mean) / (std + 1e-6)) < 1e-12)
        #expect(abs(Objective.grpo.advantage(reward: 0, correct: 1, groupSize: 8, lambda: 0) - (0 - mean) / (std + 1e-6)) < 1e-12)
    }
}
