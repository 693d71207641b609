/// The expected step gradient of docs/model.md 8 and its PSR and NSR parts:
/// g = sum_x w_x s_x / L, with s_x = grad log p_x holding onehot(a_j) - pi[c_j] at row c_j.
///
/// It accumulates like the sampled step (``GradientAccumulator``): each prompt adds its weight at
/// (c_j, a_j) for every position, and pi is applied once per row at the end, so the cost is
/// O(B L) for the prompts plus O(rows * 10) for the table, whatever G is.
public struct ExpectedGradient: Sendable {
    public private(set) var positive: GradientAccumulator
    public private(set) var negative: GradientAccumulator

    public init(rowCount: Int) {
        positive = GradientAccumulator(rowCount: rowCount)
        negative = GradientAccumulator(rowCount: rowCount)
    }

    /// Adds one prompt: its context rows, its answer digits and its expected weight.
    public mutating func add(rows: [Int], answer: [Int], weight: ExpectedWeight) {
        precondition(rows.count == answer.count)
        for j in rows.indices {
            positive.add(row: rows[j], token: answer[j], advantage: weight.psr)
            negative.add(row: rows[j], token: answer[j], advantage: weight.nsr)
        }
    }

    /// The PSR and NSR parts and their sum, each sum_x w s_x / L (`scale` = 1 / L), with `pi` the
    /// generating policy's probabilities.
    public func gradient(probabilities pi: [Double], scale: Double) -> (total: [Double], psr: [Double], nsr: [Double]) {
        let psr = positive.gradient(probabilities: pi, scale: scale)
        let nsr = negative.gradient(probabilities: pi, scale: scale)
        var total = psr
        for i in total.indices { total[i] += nsr[i] }
        return (total, psr, nsr)
    }
}
