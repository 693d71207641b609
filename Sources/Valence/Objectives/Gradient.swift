/// Accumulates dJ/dz (docs/model.md 5.6) from weighted rollouts, one row visit at a time.
///
/// For a softmax row, sum_visits A (onehot(y) - pi) = S[y] - T pi, where S sums the advantages
/// per (row, token) and T per row; so each visit costs two additions and pi is applied once at the
/// end. Visits are added in the canonical (prompt, sample, position) order, so the floating-point
/// result does not depend on how the step was sharded.
public struct GradientAccumulator: Sendable {
    public let rowCount: Int
    var tokenSums: [Double]
    var rowSums: [Double]
    public private(set) var visits = 0

    public init(rowCount: Int) {
        self.rowCount = rowCount
        tokenSums = [Double](repeating: 0, count: rowCount * 10)
        rowSums = [Double](repeating: 0, count: rowCount)
    }

    @inline(__always)
    public mutating func add(row: Int, token: Int, advantage: Double) {
        tokenSums[row * 10 + token] += advantage
        rowSums[row] += advantage
        visits += 1
    }

    /// Adds one visit per position j: (rows[j], tokens[j]) with advantage advantages[j], in order.
    @inline(__always)
    public mutating func add(rows: [Int], tokens: [Int], advantages: UnsafeBufferPointer<Double>) {
        let n = advantages.count
        precondition(rows.count >= n && tokens.count >= n)
        let rowCount = self.rowCount
        tokenSums.withUnsafeMutableBufferPointer { sums in
            rowSums.withUnsafeMutableBufferPointer { rowTotals in
                for j in 0..<n {
                    let row = rows[j], token = tokens[j]
                    precondition(row >= 0 && row < rowCount && token >= 0 && token < 10, "visit outside the table")
                    sums[row &* 10 &+ token] += advantages[j]
                    rowTotals[row] += advantages[j]
                }
            }
        }
        visits += n
    }

    /// The gradient (S - T pi) * scale, with pi the generating policy's probabilities.
    public func gradient(probabilities pi: [Double], scale: Double) -> [Double] {
        var g = [Double](repeating: 0, count: tokenSums.count)
        for r in 0..<rowCount where rowSums[r] != 0 || tokenSums[(r * 10)..<(r * 10 + 10)].contains(where: { $0 != 0 }) {
            for k in 0..<10 {
                g[r * 10 + k] = (tokenSums[r * 10 + k] - rowSums[r] * pi[r * 10 + k]) * scale
            }
        }
        return g
    }
}

/// The Frobenius norm of a whole-table gradient.
public func frobeniusNorm(_ g: [Double]) -> Double {
    var s = 0.0
    for x in g { s += x * x }
    return s.squareRoot()
}
