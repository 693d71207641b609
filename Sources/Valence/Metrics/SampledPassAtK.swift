/// Sampled Pass@k (docs/model.md 6 cross-check): n rollouts per prompt from softmax(z / T), scored with the
/// unbiased estimator, to set next to the exact value the table gives.
///
/// Sample s of prompt x at checkpoint t draws from CounterRNG(seed, .evalSample, t, x, s), so the
/// estimate is a pure function of the run seed and never shifts any training stream.
public enum SampledPassAtK {
    /// The smallest n: every reported k must satisfy k <= n.
    public static var minimumSamples: Int { PassAtK.ks.last ?? 1 }
    public static let maximumSamples = 1_000_000

    public static func validate(samples: Int) throws {
        guard samples >= minimumSamples else {
            throw ValenceError.config(detail: "--samples \(samples) is too small: Pass@k is reported up to k = \(minimumSamples) and the unbiased estimator needs k <= n")
        }
        guard samples <= maximumSamples else {
            throw ValenceError.config(detail: "--samples \(samples) is out of range \(minimumSamples)...\(maximumSamples)")
        }
    }

    public struct Result: Sendable, Equatable {
        public var samples: Int
        /// Mean over prompts of the unbiased estimator, for k in ``PassAtK/ks``.
        public var passAtK: [Double]
        /// Fraction of all sampled responses that were correct (the sampled Pass@1).
        public var correctFraction: Double
    }

    /// Samples `samples` responses per prompt (prompt ids are the indices of `prompts`), advancing
    /// `progress` (if any) by one per prompt.
    public static func evaluate(policy: TabularPolicy, prompts: [(a: Int, b: Int)], temperature: Double,
                                samples n: Int, seed: UInt64, step: Int, progress: ProgressLine? = nil) throws -> Result {
        try validate(samples: n)
        let space = policy.space
        let task = space.task
        let L = task.length
        let probs = policy.probabilities(temperature: temperature)
        // Per row, the cumulative probability below each token: token k is drawn iff lo[k] <= u < hi[k].
        var cdf = [Double](repeating: 0, count: probs.count + space.rowCount)
        for r in 0..<space.rowCount {
            var acc = 0.0
            for k in 0..<10 {
                cdf[r * 11 + k] = acc
                acc += probs[r * 10 + k]
            }
            cdf[r * 11 + 10] = acc
        }
        var pass = [Double](repeating: 0, count: PassAtK.ks.count)
        var correctTotal = 0
        var rows: [Int] = []
        var lo = [Double](repeating: 0, count: L), hi = [Double](repeating: 0, count: L)
        var upperIsLast = [Bool](repeating: false, count: L)
        for (x, pair) in prompts.enumerated() {
            space.rows(a: pair.a, b: pair.b, into: &rows)
            let answer = pair.a + pair.b
            for j in 0..<L {
                let d = task.digit(answer, at: j)
                lo[j] = cdf[rows[j] * 11 + d]
                hi[j] = cdf[rows[j] * 11 + d + 1]
                // The sampler picks token 9 for any u past the last boundary (rounding).
                upperIsLast[j] = d == 9
            }
            var c = 0
            for s in 0..<n {
                var rng = CounterRNG(seed: seed, purpose: .evalSample, UInt64(step), UInt64(x), UInt64(s))
                var ok = true
                for j in 0..<L {
                    let u = rng.unit()
                    if u < lo[j] || (u >= hi[j] && !upperIsLast[j]) { ok = false; break }
                }
                if ok { c += 1 }
            }
            correctTotal += c
            for (i, k) in PassAtK.ks.enumerated() { pass[i] += PassAtK.unbiased(n: n, c: c, k: k) }
            progress?.advance()
        }
        let count = Double(max(prompts.count, 1))
        return Result(samples: n, passAtK: pass.map { $0 / count },
                      correctFraction: Double(correctTotal) / (count * Double(n)))
    }
}
