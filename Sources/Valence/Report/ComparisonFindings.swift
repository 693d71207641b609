/// Findings stated as sentences computed from the measured numbers: nothing here is a claim
/// written in advance, so a different run (or a bug) produces different sentences.
extension ComparisonReport {
    static func signed(_ x: Double, decimals: Int = 4) -> String {
        (x >= 0 ? "+" : "") + formatNumber(x, decimals: decimals)
    }

    static func percent(_ x: Double) -> String { formatNumber(100 * x, decimals: 1) + "%" }

    /// Differences smaller than half the last printed digit count as level, so no sentence calls
    /// "0.0000" a drop.
    static let level = 5e-5

    /// The sentences for one regime.
    public func findings(window w: Int) -> [String] {
        let all = summaries(window: w)
        guard let base = all.first(where: { $0.label == "base" }) else { return [] }
        let objectives = all.filter { $0.label != "base" }
        guard !objectives.isEmpty else { return ["No objective was run in this regime."] }
        let last = PassAtK.ks.count - 1
        var out: [String] = []
        out.append(best(objectives, base: base, index: 0))
        out.append(best(objectives, base: base, index: last))
        out.append(entropySentence(objectives, base: base))
        if let psr = objectives.first(where: { $0.label == "psr" }) { out.append(psrSentence(psr, base: base)) }
        out.append(largeKSentence(objectives, base: base))
        if let s = sampledSentence(all) { out.append(s) }
        if let s = redistributionSentence(window: w, objectives: objectives.map(\.label)) { out.append(s) }
        return out
    }

    func best(_ objectives: [Summary], base: Summary, index i: Int) -> String {
        let k = PassAtK.ks[i]
        let ranked = objectives.sorted { $0.passAtK[i].mean > $1.passAtK[i].mean }
        let top = ranked[0]
        let b = base.passAtK[i].mean
        var s = "Best Pass@\(k): \(top.label) with \(formatNumber(top.passAtK[i].mean)) (base \(formatNumber(b)), \(Self.signed(top.passAtK[i].mean - b)))"
        if ranked.count > 1 {
            let second = ranked[1]
            let lead = top.passAtK[i].mean - second.passAtK[i].mean
            s += "; runner-up \(second.label) at \(formatNumber(second.passAtK[i].mean))"
            if let se1 = top.passAtK[i].se, let se2 = second.passAtK[i].se {
                let combined = (se1 * se1 + se2 * se2).squareRoot()
                s += lead > combined
                    ? ", a lead of \(formatNumber(lead)) that exceeds the combined standard error (\(formatNumber(combined)))"
                    : ", a lead of \(formatNumber(lead)) within the combined standard error (\(formatNumber(combined))), so not resolved by these seeds"
            }
        }
        return s + "."
    }

    func entropySentence(_ objectives: [Summary], base: Summary) -> String {
        let h0 = base.entropy.mean
        func change(_ s: Summary) -> String {
            h0 > 0 ? Self.signed((s.entropy.mean - h0) / h0 * 100, decimals: 1) + "%" : Self.signed(s.entropy.mean - h0)
        }
        let ranked = objectives.sorted { abs($0.entropy.mean - h0) < abs($1.entropy.mean - h0) }
        let closest = ranked[0]
        var s = "\(closest.label) keeps entropy closest to the base policy: \(formatNumber(closest.entropy.mean)) nats against \(formatNumber(h0)) (\(change(closest)))"
        if ranked.count > 1, let farthest = ranked.last {
            s += "; \(farthest.label) moves it the most, to \(formatNumber(farthest.entropy.mean)) (\(change(farthest)))"
        }
        return s + "."
    }

    func psrSentence(_ psr: Summary, base: Summary) -> String {
        let ks = PassAtK.ks
        let below = ks.indices.filter { psr.passAtK[$0].mean < base.passAtK[$0].mean - Self.level }
        let last = ks.count - 1
        let tail = "Pass@\(ks[last]) \(formatNumber(psr.passAtK[last].mean)) vs base \(formatNumber(base.passAtK[last].mean))"
        if below.isEmpty {
            return "psr stays at or above the base policy at every k from 1 to \(ks[last]) (\(tail))."
        }
        // The smallest index from which psr stays below base up to the largest k.
        var from = last + 1
        while from > 0 && below.contains(from - 1) { from -= 1 }
        if from <= last {
            let atOrAbove = (0..<from).filter { !below.contains($0) }
            let before = atOrAbove.isEmpty ? "" : ", after being at or above it up to k = \(ks[from - 1])"
            return "psr falls below the base policy from k = \(ks[from]) on\(before) (\(tail), \(Self.signed(psr.passAtK[last].mean - base.passAtK[last].mean)))."
        }
        let where_ = below.map { String(ks[$0]) }.joined(separator: ", ")
        return "psr is below the base policy at k = \(where_) but not at the largest k (\(tail))."
    }

    func largeKSentence(_ objectives: [Summary], base: Summary) -> String {
        let last = PassAtK.ks.count - 1
        let b = base.passAtK[last].mean
        func item(_ s: Summary) -> String { "\(s.label) (\(Self.signed(s.passAtK[last].mean - b)))" }
        let below = objectives.filter { $0.passAtK[last].mean < b - Self.level }
        let levelWith = objectives.filter { abs($0.passAtK[last].mean - b) <= Self.level }
        let above = objectives.filter { $0.passAtK[last].mean > b + Self.level }
        var parts: [String] = []
        if !below.isEmpty { parts.append("below base: " + below.map(item).joined(separator: ", ")) }
        if !levelWith.isEmpty { parts.append("level with base (within \(formatNumber(Self.level, decimals: 5))): " + levelWith.map(\.label).joined(separator: ", ")) }
        if !above.isEmpty { parts.append("above base: " + above.map(item).joined(separator: ", ")) }
        return "At k = \(PassAtK.ks[last]), " + parts.joined(separator: "; ") + "."
    }

    func sampledSentence(_ all: [Summary]) -> String? {
        var worst: (label: String, i: Int, exact: Double, sampled: Double)?
        var n: Int?
        for s in all {
            guard let sampled = s.sampled else { continue }
            n = n ?? s.samples
            for i in PassAtK.ks.indices {
                let gap = abs(sampled[i].mean - s.passAtK[i].mean)
                if worst.map({ gap > abs($0.sampled - $0.exact) }) ?? true {
                    worst = (s.label, i, s.passAtK[i].mean, sampled[i].mean)
                }
            }
        }
        guard let worst else { return nil }
        let gap = abs(worst.sampled - worst.exact)
        return "Sampled Pass@k (n = \(n.map(String.init) ?? "?") rollouts per test prompt, unbiased estimator) agrees with the exact value within \(formatNumber(gap)) everywhere; the largest gap is \(worst.label) at k = \(PassAtK.ks[worst.i]) (exact \(formatNumber(worst.exact)), sampled \(formatNumber(worst.sampled)))."
    }

    func redistributionSentence(window w: Int, objectives: [String]) -> String? {
        let measured = objectives.compactMap { o in stepMean(window: w, label: o, "redist_corr").map { (o, $0) } }
        guard !measured.isEmpty else { return nil }
        let focus = measured.first { $0.0 == "nsr" } ?? measured[0]
        var s = "Mass redistribution under \(focus.0): on rows that got a wrong sample, the unsampled tokens' share of the gain correlates with their prior share at r = \(formatNumber(focus.1, decimals: 3)) (mean over steps)"
        if let tv = stepMean(window: w, label: focus.0, "redist_tv") {
            s += ", total-variation distance \(formatNumber(tv, decimals: 3)) from a by-the-prior split"
        }
        if let toCorrect = stepMean(window: w, label: focus.0, "redist_to_correct"),
           let prior = stepMean(window: w, label: focus.0, "redist_prior_correct") {
            s += "; \(Self.percent(toCorrect)) of the gained mass went to tokens correct for some prompt using the row, against \(Self.percent(prior)) by the prior"
        }
        s += "."
        if measured.count > 1 {
            let ranked = measured.sorted { $0.1 > $1.1 }
            s += " Correlation by objective: " + ranked.map { "\($0.0) \(formatNumber($0.1, decimals: 3))" }.joined(separator: ", ") + "."
        }
        return s
    }
}
