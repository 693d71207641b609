import Testing
@testable import Valence

/// docs/model.md 6: the PSR part (correct samples) and the NSR part (wrong samples) of a step's gradient add
/// up to the full gradient, here REINFORCE (A = +1 / -1) on a fixed batch.
@Suite struct GradientPartsTests {
    /// (row, token, reward) visits of a small fixed batch over 3 rows.
    static let visits: [(row: Int, token: Int, reward: Int)] = [
        (0, 3, 1), (0, 3, 0), (0, 7, 0), (1, 1, 1), (1, 1, 1), (1, 4, 0), (2, 9, 0), (2, 0, 0), (0, 3, 1), (2, 9, 1),
    ]

    static var probabilities: [Double] {
        var z = [Double](repeating: 0, count: 30)
        var rng = CounterRNG(seed: 42, purpose: .rollout)
        for i in z.indices { z[i] = rng.unit() * 3 - 1.5 }
        return TabularPolicy(space: try! ContextSpace(task: try! AddTask(digits: 2), window: 0), logits: z + [Double](repeating: 0, count: 300 * 10 - 30))
            .probabilities()
    }

    @Test func psrPlusNsrEqualsFullReinforceGradient() {
        let pi = Self.probabilities
        let rowCount = pi.count / 10
        var full = GradientAccumulator(rowCount: rowCount)
        var psr = GradientAccumulator(rowCount: rowCount)
        var nsr = GradientAccumulator(rowCount: rowCount)
        for v in Self.visits {
            let a = Objective.reinforce.advantage(reward: v.reward, correct: 0, groupSize: 8, lambda: 0.1)
            full.add(row: v.row, token: v.token, advantage: a)
            if v.reward == 1 { psr.add(row: v.row, token: v.token, advantage: a) } else { nsr.add(row: v.row, token: v.token, advantage: a) }
        }
        let scale = 1.0 / 16
        let g = full.gradient(probabilities: pi, scale: scale)
        let gp = psr.gradient(probabilities: pi, scale: scale)
        let gn = nsr.gradient(probabilities: pi, scale: scale)
        for i in g.indices { #expect(abs(g[i] - (gp[i] + gn[i])) < 1e-14) }

        // And both equal docs/model.md 5.6's formula: sum over visits of A (onehot(y) - pi) * scale.
        var direct = [Double](repeating: 0, count: pi.count)
        for v in Self.visits {
            let a: Double = v.reward == 1 ? 1 : -1
            for k in 0..<10 { direct[v.row * 10 + k] += a * ((k == v.token ? 1 : 0) - pi[v.row * 10 + k]) * scale }
        }
        for i in g.indices { #expect(abs(g[i] - direct[i]) < 1e-14) }

        // The parts are genuinely different and non-zero, so the check above is not vacuous.
        #expect(frobeniusNorm(gp) > 0.01 && frobeniusNorm(gn) > 0.01)
        #expect(abs(frobeniusNorm(g) - frobeniusNorm(gp) - frobeniusNorm(gn)) > 1e-6)
    }
}
