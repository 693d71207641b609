#if canImport(Glibc)
import Glibc
#endif

/// The entropy decomposition in the compare report (docs/model.md 9): how well the first-order prediction
/// `entropy_pred` matches the measured change `entropy_delta` per objective, and which way the
/// PSR and NSR gradient parts push the entropy.
extension ComparisonReport {
    /// Predicted against measured entropy change over every training step and seed of one objective.
    public struct EntropyFit: Sendable {
        public var steps: Int
        /// Pearson correlation of predicted and measured (nil with fewer than 3 steps or no spread).
        public var correlation: Double?
        /// Mean |predicted - measured| and mean |measured|, for scale.
        public var meanAbsoluteError: Double
        public var meanAbsoluteChange: Double
        /// Mean over steps of entropy_dir_psr and entropy_dir_nsr (nil when no step has them).
        public var directionPSR: Double?
        public var directionNSR: Double?
    }

    /// (measured, predicted) per training step of every seed of one objective in one regime.
    public func entropyPairs(window: Int, label: String) -> [(measured: Double, predicted: Double)] {
        runs(window: window).filter { $0.label == label }.flatMap(\.steps).compactMap { l in
            guard let m = l.number("entropy_delta"), let p = l.number("entropy_pred"), m.isFinite, p.isFinite else { return nil }
            return (m, p)
        }
    }

    public func entropyFit(window: Int, label: String) -> EntropyFit? {
        let pairs = entropyPairs(window: window, label: label)
        guard !pairs.isEmpty else { return nil }
        let n = Double(pairs.count)
        return EntropyFit(steps: pairs.count, correlation: pearson(pairs.map(\.measured), pairs.map(\.predicted)),
                          meanAbsoluteError: pairs.reduce(0) { $0 + abs($1.predicted - $1.measured) } / n,
                          meanAbsoluteChange: pairs.reduce(0) { $0 + abs($1.measured) } / n,
                          directionPSR: stepMean(window: window, label: label, "entropy_dir_psr"),
                          directionNSR: stepMean(window: window, label: label, "entropy_dir_nsr"))
    }

    /// Predicted against measured entropy change, one point per step and seed, one panel per
    /// regime, with the line y = x.
    public var entropyFigure: String {
        let panels = windows.map { w in
            PointFigure.Panel(title: "Entropy change per step, w=\(w)", xLabel: "measured (nats)",
                              yLabel: "predicted (first order)",
                              series: objectives(window: w).map { o in
                                  PointFigure.Series(name: o, points: entropyPairs(window: w, label: o).map { .init(x: $0.measured, y: $0.predicted) },
                                                     connected: false)
                              }, diagonal: true)
        }
        return PointFigure(title: "Entropy change: predicted against measured",
                           subtitle: "one point per training step and seed; prediction -Cov(log pi, dz) per row, dashed: y = x",
                           rows: [panels], legend: Array(legendLabels.dropFirst())).svg
    }

    var entropySection: String {
        var md = "## Entropy decomposition (docs/model.md 9)\n\n"
        md += "![Predicted against measured entropy change per step](entropy.svg)\n\n"
        md += "Per step, *predicted* is the first-order change -Cov_{a~pi}(log pi(a), dz(a)) of each row's entropy under the "
        md += "step's logit change dz, averaged like the entropy metric; *measured* is the actual change. *corr* and *MAE* are over "
        md += "every step and seed; *dir PSR* / *dir NSR* are the mean first-order entropy change the step's PSR and NSR gradient "
        md += "parts point to (positive raises entropy), before the optimizer turns the gradient into a step.\n\n"
        for w in windows {
            md += "### \(Self.regimeName(w))\n\n"
            md += "| objective | steps | corr | MAE | mean abs change | dir PSR | dir NSR |\n|---|---:|---:|---:|---:|---:|---:|\n"
            for o in objectives(window: w) {
                guard let f = entropyFit(window: w, label: o) else { continue }
                md += "| \(o) | \(f.steps) | \(Self.cell(f.correlation, decimals: 4)) | \(formatScientific(f.meanAbsoluteError)) | "
                md += "\(formatScientific(f.meanAbsoluteChange)) | \(f.directionPSR.map(formatScientific) ?? "–") | "
                md += "\(f.directionNSR.map(formatScientific) ?? "–") |\n"
            }
            md += "\n"
        }
        return md
    }
}

/// Pearson correlation; nil with fewer than 3 values or no spread in either.
public func pearson(_ x: [Double], _ y: [Double]) -> Double? {
    guard x.count == y.count, x.count >= 3 else { return nil }
    let n = Double(x.count)
    let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for (a, b) in zip(x, y) {
        sxy += (a - mx) * (b - my)
        sxx += (a - mx) * (a - mx)
        syy += (b - my) * (b - my)
    }
    guard sxx > 0, syy > 0 else { return nil }
    return sxy / (sxx * syy).squareRoot()
}

/// A number in 3 significant digits, scientific below 1e-3: "2.41e-05", "0.0132".
public func formatScientific(_ x: Double) -> String {
    if x == 0 || !x.isFinite { return formatNumber(x, decimals: 0) }
    let e = Int(floor(log10(abs(x))))
    if abs(x) >= 1e-3 && abs(x) < 1e4 { return formatNumber(x, decimals: max(0, 2 - e)) }
    var m = x / pow(10, Double(e)), exponent = e
    if abs(m) >= 9.995 { m /= 10; exponent += 1 }
    return "\(formatNumber(m, decimals: 2))e\(exponent < 0 ? "-" : "+")\(abs(exponent) < 10 ? "0" : "")\(abs(exponent))"
}
