#if canImport(Glibc)
import Glibc
#endif

/// The metrics of one policy on one prompt set (docs/model.md 6).
public struct Evaluation: Sendable, Equatable {
    /// Pass@k for k in ``PassAtK/ks``.
    public var passAtK: [Double]
    /// Fraction of prompts whose greedy (argmax, ties to the lowest token) answer is correct.
    public var greedy: Double
    /// Mean over prompts and positions of the row entropy in nats.
    public var entropy: Double
    public var prompts: Int

    /// Evaluates softmax(z / T) on `prompts` (operand pairs).
    public static func evaluate(policy: TabularPolicy, prompts: [(a: Int, b: Int)], temperature: Double = 1) -> Evaluation {
        let space = policy.space
        let task = space.task
        let L = task.length
        let probs = policy.probabilities(temperature: temperature)
        // Row entropies and argmaxes once, then per-prompt sums.
        var rowEntropy = [Double](repeating: 0, count: space.rowCount)
        var rowArgmax = [Int](repeating: 0, count: space.rowCount)
        for r in 0..<space.rowCount {
            var h = 0.0
            var best = 0
            for k in 0..<10 {
                let p = probs[r * 10 + k]
                if p > 0 { h -= p * log(p) }
                if p > probs[r * 10 + best] { best = k }
            }
            rowEntropy[r] = h
            rowArgmax[r] = best
        }
        var pass = [Double](repeating: 0, count: PassAtK.ks.count)
        var greedyCorrect = 0
        var entropy = 0.0
        var rows: [Int] = []
        for (a, b) in prompts {
            space.rows(a: a, b: b, into: &rows)
            let answer = a + b
            var p = 1.0
            var greedyOK = true
            for j in 0..<L {
                let digit = task.digit(answer, at: j)
                p *= probs[rows[j] * 10 + digit]
                if rowArgmax[rows[j]] != digit { greedyOK = false }
                entropy += rowEntropy[rows[j]]
            }
            if greedyOK { greedyCorrect += 1 }
            for (i, k) in PassAtK.ks.enumerated() { pass[i] += PassAtK.exact(p: p, k: k) }
        }
        let n = Double(max(prompts.count, 1))
        return Evaluation(
            passAtK: pass.map { $0 / n },
            greedy: Double(greedyCorrect) / n,
            entropy: entropy / (n * Double(L)),
            prompts: prompts.count
        )
    }
}
