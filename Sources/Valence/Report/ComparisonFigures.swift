/// The report's figures, drawn by Valence itself (SVG, no plotting tool needed).
extension ComparisonReport {
    static func regimeName(_ w: Int) -> String {
        w == 0 ? "WINDOW=0 (no carry hint)" : "WINDOW=\(w) (carry hints of \(w) lower digit\(w == 1 ? "" : "s"))"
    }

    var seedNote: String {
        let s = seeds
        return s.count == 1 ? "seed \(s[0])" : "mean of \(s.count) seeds (\(s.map(String.init).joined(separator: ", ")))"
    }

    /// Every label drawn anywhere, base first, for one legend shared by all panels.
    var legendLabels: [String] {
        var out = ["base"]
        for w in windows { for o in objectives(window: w) where !out.contains(o) { out.append(o) } }
        return out
    }

    /// Pass@k against log2 k, one panel per regime, one line per objective, base dashed.
    public var passkFigure: String {
        let ticks = PassAtK.ks.map { (log2Int($0), String($0)) }
        let panels = windows.map { w in
            PlotPanel(
                title: Self.regimeName(w), xLabel: "k (log2 scale)", yLabel: "test Pass@k (exact)", xTicks: ticks,
                series: summaries(window: w).map { s in
                    PlotSeries(name: s.label, points: zip(PassAtK.ks, s.passAtK).map { (x: log2Int($0), y: $1.mean) })
                })
        }
        // The curves of good objectives lie close together near 1, so a second row shows each
        // objective's difference from the base policy at every k.
        let differences = windows.map { w in
            let all = summaries(window: w)
            let base = all.first { $0.label == "base" }
            return PlotPanel(
                title: "Pass@k minus base, w=\(w)", xLabel: "k (log2 scale)", yLabel: "Pass@k - base Pass@k", xTicks: ticks, yInclude: [0],
                series: all.map { s in
                    PlotSeries(name: s.label, points: PassAtK.ks.indices.map { i in
                        (x: log2Int(PassAtK.ks[i]), y: s.passAtK[i].mean - (base?.passAtK[i].mean ?? 0))
                    })
                })
        }
        let steps = runs.first?.config.steps ?? 0
        return PanelFigure(title: "Pass@k after \(steps) steps, by objective",
                           subtitle: "exact Pass@k over the test prompts; \(seedNote); dashed: the base policy",
                           rows: [panels, differences], legend: legendLabels).svg
    }

    static let trainingMetrics: [(title: String, axis: String, includeBase: Bool, zero: Bool, value: @Sendable (MetricsLine) -> Double?)] = [
        ("Test Pass@1", "Pass@1 (exact)", true, false, { $0.passAtK[0] }),
        ("Test Pass@256", "Pass@256 (exact)", true, false, { $0.passAtK[PassAtK.ks.count - 1] }),
        ("Mean entropy", "entropy (nats)", true, false, { $0.entropy }),
        ("Batch fraction correct", "fraction of rollouts correct", false, false, { $0.number("batch_correct") }),
    ]

    /// Per objective over steps: test Pass@1, Pass@256, entropy and batch fraction correct, one row
    /// of panels per regime.
    public var trainingFigure: String {
        let rows = windows.map { w in
            Self.trainingMetrics.map { m in
                PlotPanel(title: "\(m.title), w=\(w)", xLabel: "training step", yLabel: m.axis, yInclude: m.zero ? [0] : [],
                          series: objectives(window: w).map { o in
                              PlotSeries(name: o, points: curve(window: w, label: o, includeBase: m.includeBase, m.value))
                          })
            }
        }
        return PanelFigure(title: "Training curves", subtitle: "\(seedNote); step 0 is the base policy",
                           rows: rows, legend: Array(legendLabels.dropFirst())).svg
    }

    static let diagnosticMetrics: [(title: String, axis: String, key: String)] = [
        ("PSR part of gradient", "L2 norm", "grad_norm_psr"),
        ("NSR part of gradient", "L2 norm", "grad_norm_nsr"),
        ("Entropy change per step", "delta entropy (nats)", "entropy_delta"),
        ("Mass redistribution vs prior", "corr(gain share, prior share)", "redist_corr"),
    ]

    /// Per objective over steps: the gradient parts' norms, the entropy change and the
    /// redistribution correlation.
    public var diagnosticsFigure: String {
        let rows = windows.map { w in
            Self.diagnosticMetrics.map { m in
                PlotPanel(title: "\(m.title), w=\(w)", xLabel: "training step", yLabel: m.axis, yInclude: [0],
                          series: objectives(window: w).map { o in
                              PlotSeries(name: o, points: curve(window: w, label: o, includeBase: false) { $0.number(m.key) })
                          })
            }
        }
        return PanelFigure(title: "Per-step diagnostics", subtitle: "\(seedNote); gradient parts under each objective's own advantages",
                           rows: rows, legend: Array(legendLabels.dropFirst())).svg
    }
}

func log2Int(_ k: Int) -> Double {
    var v = 0, x = k
    while x > 1 { x >>= 1; v += 1 }
    return Double(v)
}
