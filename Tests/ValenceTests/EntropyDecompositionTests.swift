import Foundation
import Testing
@testable import Valence

/// docs/model.md 9's first-order entropy change against a hand-computed row and against the exact change
/// of the entropy metric under a tiny update.
@Suite struct EntropyDecompositionTests {
    /// Two tokens with pi = (p, 1 - p) and dz = (d, 0): H = -p log p - (1 - p) log(1 - p), dp/dz_1 =
    /// p (1 - p), so dH = d p (1 - p) log((1 - p) / p). At p = 1/4: d * 3/16 * log 3.
    @Test func twoTokenRowByHand() {
        let pi = [0.25, 0.75]
        let change = EntropyDecomposition.rowChange(probabilities: pi[...], logProbabilities: pi.map { log($0) }[...],
                                                    change: [0.01, 0][...])
        #expect(abs(change - 0.01 * 3 / 16 * log(3.0)) < 1e-17)
        // Raising the likelier token lowers the entropy; a shift of every logit changes nothing.
        let other = EntropyDecomposition.rowChange(probabilities: pi[...], logProbabilities: pi.map { log($0) }[...],
                                                   change: [0, 0.01][...])
        #expect(abs(other + 0.01 * 3 / 16 * log(3.0)) < 1e-17)
        let shift = EntropyDecomposition.rowChange(probabilities: pi[...], logProbabilities: pi.map { log($0) }[...],
                                                   change: [0.5, 0.5][...])
        #expect(abs(shift) < 1e-17)
    }

    /// The predicted change of the entropy metric against Evaluation's exact change for a random
    /// table and a random tiny logit change, at eval temperatures 1 and 0.6.
    @Test(arguments: [1.0, 0.6])
    func predictionMatchesTheExactChangeOfATinyUpdate(temperature: Double) throws {
        let space = try ContextSpace(task: AddTask(digits: 2), window: 1)
        var rng = CounterRNG(seed: 3, purpose: .evalSample)
        let before = TabularPolicy(space: space, logits: (0..<(space.rowCount * 10)).map { _ in rng.unit() * 4 - 2 })
        let change = (0..<before.logits.count).map { _ in (rng.unit() * 2 - 1) * 1e-4 }
        var after = before
        for i in after.logits.indices { after.logits[i] += change[i] }
        let prompts = (0..<300).map { _ in (a: rng.below(100), b: rng.below(100)) }
        let exact = Evaluation.evaluate(policy: after, prompts: prompts, temperature: temperature).entropy
            - Evaluation.evaluate(policy: before, prompts: prompts, temperature: temperature).entropy
        let weights = EntropyDecomposition.rowWeights(space: space, prompts: prompts)
        #expect(abs(weights.reduce(0, +) - 1) < 1e-12)
        let predicted = EntropyDecomposition.predicted(policy: before, change: change, weights: weights, temperature: temperature)
        #expect(abs(exact) > 1e-7, "the change must be measurable")
        #expect(abs(predicted - exact) < 1e-3 * abs(exact), "predicted \(predicted), exact \(exact)")
    }
}
