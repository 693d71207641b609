/// The mass-redistribution diagnostic (docs/model.md 1, the paper's gradient analysis).
///
/// NSR's gradient on a wrong token y of a softmax row lowers z_y and raises every other logit in
/// proportion to its current probability, so the mass taken from y is expected to flow to the
/// other tokens according to the prior: the model's existing beliefs decide who gains. This
/// measures what one step actually did, from the policies before and after it, on the rows that
/// received at least one negative (wrong) sample in that step:
///
/// - `removed`: probability mass lost by the penalised tokens (those sampled in a wrong rollout).
/// - `correlation`: Pearson correlation, pooled over rows and the row's unsampled tokens (tokens no
///   rollout of the step produced at that row), between each token's share of the unsampled tokens'
///   net gain and its share of their prior probability. 1 means "shared exactly by the prior".
/// - `distance`: total-variation distance between those two share vectors, averaged over rows with
///   the unsampled gain as weight (0 = exactly by the prior).
/// - `toCorrect`: of the mass gained by non-penalised tokens, the fraction that went to tokens
///   that are the correct digit for some train prompt using the row; `priorCorrect` is the fraction
///   a by-the-prior split would have given them, so the two are directly comparable.
public struct RedistributionDiagnostic: Sendable, Equatable {
    public private(set) var rows = 0
    public private(set) var removed = 0.0
    // Pooled sums for the Pearson correlation of (share, prior share).
    var count = 0.0
    var sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
    var distanceWeighted = 0.0, distanceWeight = 0.0
    var gain = 0.0, gainCorrect = 0.0, gainPriorCorrect = 0.0

    public init() {}

    /// Adds one row. `before` and `after` are the row's 10 probabilities under the policies that
    /// generated the step and that the step produced; the masks have bit k set for token k.
    /// A row with no penalised token is ignored.
    public mutating func add(before: ArraySlice<Double>, after: ArraySlice<Double>,
                             penalised: UInt16, sampled: UInt16, correct: UInt16) {
        guard penalised != 0 else { return }
        let b = Array(before), a = Array(after)
        precondition(b.count == 10 && a.count == 10)
        rows += 1
        var receiverPrior = 0.0, receiverPriorCorrect = 0.0
        var rowGain = 0.0, rowGainCorrect = 0.0
        for k in 0..<10 {
            let bit: UInt16 = 1 << UInt16(k)
            let delta = a[k] - b[k]
            if penalised & bit != 0 {
                removed += max(0, -delta)
            } else {
                receiverPrior += b[k]
                rowGain += max(0, delta)
                if correct & bit != 0 {
                    receiverPriorCorrect += b[k]
                    rowGainCorrect += max(0, delta)
                }
            }
        }
        if rowGain > 0 {
            gain += rowGain
            gainCorrect += rowGainCorrect
            if receiverPrior > 0 { gainPriorCorrect += rowGain * receiverPriorCorrect / receiverPrior }
        }

        // Unsampled tokens: their share of the net gain against their share of the prior.
        var unsampledGain = 0.0, unsampledPrior = 0.0, unsampledCount = 0
        for k in 0..<10 where sampled & (1 << UInt16(k)) == 0 && penalised & (1 << UInt16(k)) == 0 {
            unsampledGain += a[k] - b[k]
            unsampledPrior += b[k]
            unsampledCount += 1
        }
        guard unsampledCount >= 2, unsampledGain > 1e-15, unsampledPrior > 0 else { return }
        var tv = 0.0
        for k in 0..<10 where sampled & (1 << UInt16(k)) == 0 && penalised & (1 << UInt16(k)) == 0 {
            let share = (a[k] - b[k]) / unsampledGain
            let prior = b[k] / unsampledPrior
            count += 1
            sx += share; sy += prior
            sxx += share * share; syy += prior * prior; sxy += share * prior
            tv += abs(share - prior)
        }
        distanceWeighted += unsampledGain * tv / 2
        distanceWeight += unsampledGain
    }

    /// Pearson correlation of gain share and prior share; nil with fewer than 3 points or no spread.
    public var correlation: Double? {
        guard count >= 3 else { return nil }
        let cov = sxy - sx * sy / count
        let vx = sxx - sx * sx / count, vy = syy - sy * sy / count
        guard vx > 1e-18, vy > 1e-18 else { return nil }
        return cov / (vx * vy).squareRoot()
    }

    public var distance: Double? { distanceWeight > 0 ? distanceWeighted / distanceWeight : nil }
    public var toCorrect: Double? { gain > 0 ? gainCorrect / gain : nil }
    public var priorCorrect: Double? { gain > 0 ? gainPriorCorrect / gain : nil }

    /// The metrics.jsonl fields, in a fixed order; nil values are written as null.
    public var fields: [(String, Double?)] {
        [("redist_rows", Double(rows)), ("redist_removed", removed), ("redist_corr", correlation),
         ("redist_tv", distance), ("redist_to_correct", toCorrect), ("redist_prior_correct", priorCorrect)]
    }

    public static let fieldNames = ["redist_rows", "redist_removed", "redist_corr", "redist_tv", "redist_to_correct", "redist_prior_correct"]
}
