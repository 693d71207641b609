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
        evaluate(policy: policy, rows: PromptRows(space: policy.space, prompts: prompts), temperature: temperature)
    }

    /// Evaluates softmax(z / T) on the prompt set `rows` was made from (with this policy's space).
    ///
    /// - Complexity: O(rows x 10 + prompts x (length + |ks|)): one `log1p` and |ks| `expm1` per prompt.
    public static func evaluate(policy: TabularPolicy, rows prompts: PromptRows, temperature: Double = 1) -> Evaluation {
        let space = policy.space
        let L = prompts.length
        precondition(L == space.length && prompts.weights.count == space.rowCount)
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
        for i in 0..<prompts.count {
            var p = 1.0
            var greedyOK = true
            for j in (i * L)..<(i * L + L) {
                let row = prompts.rows[j], digit = prompts.digits[j]
                p *= probs[row * 10 + digit]
                if rowArgmax[row] != digit { greedyOK = false }
                entropy += rowEntropy[row]
            }
            if greedyOK { greedyCorrect += 1 }
            PassAtK.addExact(p: p, into: &pass)
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
