#if canImport(Glibc)
import Glibc
#endif

/// The first-order entropy change of a softmax policy under a logit change (docs/model.md 9).
///
/// For one row with probabilities pi and logit change dz, dH = -Cov_{a ~ pi}(log pi(a), dz(a))
/// (Cui et al. 2025): raising a token's logit lowers the entropy when the token is more likely
/// than the row's "typical" token (log pi above its mean) and raises it otherwise.
public enum EntropyDecomposition {
    /// -Cov_{a ~ pi}(log pi(a), dz(a)) over one row of any length. Tokens of probability 0 carry
    /// no weight. O(row length).
    public static func rowChange(probabilities pi: ArraySlice<Double>, logProbabilities logPi: ArraySlice<Double>,
                                 change dz: ArraySlice<Double>) -> Double {
        precondition(pi.count == logPi.count && pi.count == dz.count)
        var meanLog = 0.0, meanDz = 0.0, meanProduct = 0.0
        let p0 = pi.startIndex, l0 = logPi.startIndex, d0 = dz.startIndex
        for i in 0..<pi.count {
            let q = pi[p0 + i]
            guard q > 0 else { continue }
            let l = logPi[l0 + i], d = dz[d0 + i]
            meanLog += q * l
            meanDz += q * d
            meanProduct += q * l * d
        }
        return -(meanProduct - meanLog * meanDz)
    }

    /// How often each row is visited by `prompts` at their L positions, as a fraction of all
    /// n L visits: the weighting of the entropy metric (mean over prompts and positions).
    public static func rowWeights(space: ContextSpace, prompts: [(a: Int, b: Int)]) -> [Double] {
        PromptRows(space: space, prompts: prompts).weights
    }

    /// sum_r weights[r] * rowChange(row r): the predicted change of the weighted mean entropy of
    /// softmax(z / T) when the whole table's logits z change by `change`. With `weights` from
    /// ``rowWeights(space:prompts:)`` this is `entropy_pred` (or, with a gradient part as the
    /// change, its entropy direction). The logits of softmax(z / T) change by dz / T.
    /// O(rows * 10).
    public static func predicted(policy: TabularPolicy, change: [Double], weights: [Double], temperature: Double = 1) -> Double {
        precondition(change.count == policy.logits.count && weights.count == policy.rowCount)
        let pi = policy.probabilities(temperature: temperature)
        let logPi = policy.logProbabilities(temperature: temperature)
        return predicted(probabilities: pi, logProbabilities: logPi, change: change, weights: weights, temperature: temperature)
    }

    /// The same from precomputed probabilities and log-probabilities at the eval temperature.
    public static func predicted(probabilities pi: [Double], logProbabilities logPi: [Double], change: [Double],
                                 weights: [Double], temperature: Double = 1) -> Double {
        var total = 0.0
        for r in weights.indices where weights[r] != 0 {
            let s = (r * 10)..<(r * 10 + 10)
            total += weights[r] * rowChange(probabilities: pi[s], logProbabilities: logPi[s], change: change[s])
        }
        return total / temperature
    }
}

extension EntropyDecomposition {
    /// The metrics.jsonl fields of one step on one prompt set, in a fixed order: `entropy_pred`
    /// (the first-order change predicted from dz = z_t - z_(t-1)) and `entropy_dir_psr` /
    /// `entropy_dir_nsr` (the same prediction with the step's PSR or NSR gradient part as dz; nil
    /// when the step has no gradient file). Weighted like the entropy metric, at its temperature:
    /// `weights` are the prompt set's (``PromptRows/weights``, ``rowWeights(space:prompts:)``).
    public static func fields(before: TabularPolicy, after: TabularPolicy, parts: GradientParts?,
                              weights: [Double], temperature: Double) -> [(String, Double?)] {
        precondition(weights.count == before.rowCount)
        let pi = before.probabilities(temperature: temperature)
        let logPi = before.logProbabilities(temperature: temperature)
        var change = after.logits
        for i in change.indices { change[i] -= before.logits[i] }
        func predict(_ dz: [Double]) -> Double {
            predicted(probabilities: pi, logProbabilities: logPi, change: dz, weights: weights, temperature: temperature)
        }
        return [("entropy_pred", predict(change)), ("entropy_dir_psr", parts.map { predict($0.psr) }),
                ("entropy_dir_nsr", parts.map { predict($0.nsr) })]
    }

    public static let fieldNames = ["entropy_pred", "entropy_dir_psr", "entropy_dir_nsr"]
}
