#if canImport(Glibc)
import Glibc
#endif

/// The "pretrained" prior (docs/model.md 4): maximum likelihood, add-alpha smoothed, on a corpus written by
/// a noisy student that sometimes forgets the carry and sometimes writes a random digit.
public struct BasePolicyBuilder: Sendable {
    public var space: ContextSpace
    /// C, the number of corpus solutions.
    public var corpusSize: Int = 20_000
    /// f, the probability of forgetting the incoming carry at a position.
    public var forget: Double = 0.5
    /// s, the probability of replacing the written digit with a uniform one.
    public var noise: Double = 0.1
    /// alpha, the add-alpha smoothing count.
    public var alpha: Double = 0.5
    /// T, the temperature dividing the log-probabilities.
    public var temperature: Double = 1

    public init(space: ContextSpace) { self.space = space }

    /// Counts (context row, written digit) over every position of every corpus solution.
    ///
    /// Solution c draws a, b and then, from the least significant position up, a forget draw, a
    /// noise draw and (only when noise fires) a replacement digit, all from stream
    /// (seed, corpus, c).
    public func counts(seed: UInt64) -> [Int] {
        let task = space.task
        let L = task.length
        let n = task.operandCount
        var counts = [Int](repeating: 0, count: space.rowCount * 10)
        var rows: [Int] = []
        for c in 0..<corpusSize {
            var rng = CounterRNG(seed: seed, purpose: .corpus, UInt64(c))
            let a = rng.below(n)
            let b = rng.below(n)
            space.rows(a: a, b: b, into: &rows)
            var carry = 0
            for j in stride(from: L - 1, through: 0, by: -1) {
                let sum = task.digit(a, at: j) + task.digit(b, at: j)
                let used = rng.unit() < forget ? 0 : carry
                var written = (sum + used) % 10
                if rng.unit() < noise { written = rng.below(10) }
                counts[rows[j] * 10 + written] += 1
                carry = sum + carry >= 10 ? 1 : 0
            }
        }
        return counts
    }

    /// logits = log((count + alpha) / (row total + 10 alpha)) / T; unseen rows come out uniform.
    public func policy(fromCounts counts: [Int]) -> TabularPolicy {
        var logits = [Double](repeating: 0, count: counts.count)
        for r in 0..<space.rowCount {
            var total = 0
            for k in 0..<10 { total += counts[r * 10 + k] }
            for k in 0..<10 {
                let p = (Double(counts[r * 10 + k]) + alpha) / (Double(total) + 10 * alpha)
                logits[r * 10 + k] = log(p) / temperature
            }
        }
        return TabularPolicy(space: space, logits: logits)
    }

    public func build(seed: UInt64) -> TabularPolicy {
        policy(fromCounts: counts(seed: seed))
    }
}
