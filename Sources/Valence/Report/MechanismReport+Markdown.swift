/// report.md of the group-size study: findings first, then per regime its figure, the paired
/// NSR - PSR gaps and the final metrics per objective.
extension MechanismReport {
    static func gapText(_ e: AblationReport.Estimate?) -> String {
        guard let e else { return "–" }
        let verdict: String
        switch Self.verdict(e) {
        case .resolved: verdict = " **resolved**"
        case .unresolved: verdict = ""
        case .vanishes: verdict = " (identical)"
        case .unknown: verdict = " (1 seed)"
        }
        return e.text + verdict
    }

    /// "G = 2, 4" style list.
    static func groups(_ settings: [Setting]) -> String {
        settings.compactMap { if case .sampled(let g) = $0 { return String(g) } else { return nil } }.joined(separator: ", ")
    }

    /// Where a gap stops being resolved as G grows, in words.
    func gapSentence(_ regime: Regime, metric: Int, name: String) -> String {
        let sampled = settings(regime).filter { $0 != .expected }
        let verdicts = sampled.map { s in (s, gap(regime, s, metric: metric).map(Self.verdict) ?? .unknown) }
        if verdicts.allSatisfy({ $0.1 == .unknown }) {
            return "The NSR - PSR \(name) gap cannot be judged: it needs psr and nsr runs with at least two shared seeds."
        }
        let resolved = verdicts.filter { $0.1 == .resolved }.map(\.0)
        var text = "The NSR - PSR \(name) gap"
        if resolved.isEmpty {
            text += " is not resolved by the seeds at any sampled G (\(Self.groups(sampled)))"
        } else if resolved.count == sampled.count {
            text += " is resolved at every sampled G (\(Self.groups(sampled)))"
        } else {
            // The smallest G from which on no larger G is resolved.
            var from: Setting?
            for (s, v) in verdicts.reversed() {
                if v == .resolved { break }
                from = s
            }
            text += " is resolved at G = \(Self.groups(resolved))"
            if let from, case .sampled(let g) = from { text += " and stops being resolved from G = \(g) on" }
            else { text += " (unresolved at G = \(Self.groups(sampled.filter { !resolved.contains($0) })))" }
        }
        let sizes = sampled.compactMap { s in gap(regime, s, metric: metric).map { "\(s.label): \(formatNumber($0.mean))" } }
        text += " (mean gaps \(sizes.joined(separator: "; ")))."
        if let e = gap(regime, .expected, metric: metric) {
            switch Self.verdict(e) {
            case .vanishes: text += " In expected mode it vanishes: psr and nsr end identical (|gap| < 1e-9), as docs/model.md 8 predicts."
            case .resolved: text += " In expected mode it is still resolved (\(e.text)), which contradicts docs/model.md 8's prediction of identical trajectories."
            default: text += " In expected mode it is \(e.text), not zero: this contradicts docs/model.md 8's prediction of identical trajectories."
            }
        }
        return text
    }

    /// Adam against SGD for one window: mean |gap| over the sampled G and how many are resolved.
    func optimizerSentence(window: Int) -> String? {
        let pair = regimes.filter { $0.window == window }
        guard pair.count >= 2 else { return nil }
        var parts: [String] = []
        for regime in pair {
            let sampled = settings(regime).filter { $0 != .expected }
            let gaps = sampled.compactMap { gap(regime, $0, metric: 0) }
            guard !gaps.isEmpty else { continue }
            let meanAbs = gaps.reduce(0) { $0 + abs($1.mean) } / Double(gaps.count)
            let signs = gaps.filter { $0.mean > 0 }.count
            let resolved = gaps.filter { Self.verdict($0) == .resolved }.count
            parts.append("under \(regime.optimizer.rawValue) the NSR - PSR entropy gap averages \(formatNumber(meanAbs)) nats in size over "
                         + "\(gaps.count) group sizes (NSR higher at \(signs) of them, resolved at \(resolved))")
        }
        guard parts.count >= 2 else { return nil }
        return "At WINDOW=\(window), " + parts.joined(separator: "; ") + "."
    }

    public var findings: [String] {
        var out: [String] = []
        for regime in regimes {
            out.append("**\(regime.label)**: " + gapSentence(regime, metric: 0, name: "entropy") + " " + gapSentence(regime, metric: 2, name: "Pass@256"))
        }
        for w in Set(regimes.map(\.window)).sorted() {
            if let s = optimizerSentence(window: w) { out.append(s) }
        }
        return out
    }

    public var markdown: String {
        let steps = runs.first?.config.steps ?? 0
        var md = "# Valence mechanism study: the NSR - PSR gap against group size\n\n"
        md += "\(runs.count) runs: \(regimes.count) regime\(regimes.count == 1 ? "" : "s") (context window x optimizer), "
        md += "objectives \(Set(runs.map(\.config.objective.rawValue)).sorted().joined(separator: ", ")), seeds "
        md += "\(seeds.map(String.init).joined(separator: ", ")), \(steps) steps each; sampled rollouts at each group size G and "
        md += "expected-gradient mode (docs/model.md 8, `rollouts = expected`). Every number is a final test metric; ± is the standard error "
        md += "over seeds. NSR - PSR gaps are paired by seed and *resolved* when |mean| > 2 SE. See docs/mechanism.md for why "
        md += "expected mode must make psr and nsr identical.\n\n"
        md += "## Findings\n\nGenerated from the numbers below when this report was written.\n\n"
        for f in findings { md += "- \(f)\n" }
        md += "\n"
        for regime in regimes {
            let settings = settings(regime)
            md += "## \(regime.label)\n\n"
            md += "![Final entropy, Pass@1 and Pass@256 against G, \(regime.label)](\(Self.figureFile(regime)))\n\n"
            md += "### NSR - PSR (paired by seed)\n\n| setting | entropy | Pass@1 | Pass@256 |\n|---|---:|---:|---:|\n"
            for s in settings {
                md += "| \(s.label) | " + Self.metrics.indices.map { Self.gapText(gap(regime, s, metric: $0)) }.joined(separator: " | ") + " |\n"
            }
            md += "\n"
            for m in Self.metrics.indices {
                md += "### \(Self.metrics[m].title)\n\n| setting | " + objectives(regime).joined(separator: " | ") + " |\n"
                md += "|---|" + String(repeating: "---:|", count: objectives(regime).count) + "\n"
                for s in settings {
                    md += "| \(s.label) | " + objectives(regime).map { o in estimate(regime, s, o, metric: m)?.text ?? "–" }.joined(separator: " | ") + " |\n"
                }
                md += "\n"
            }
        }
        md += "## Reproduce\n\n```sh\nmake mechanism                 # every cell, 3 seeds -> runs/mechanism/report.md\nmake mechanism SEEDS=\"1 2\"     # other seeds\n```\n\n"
        md += "Files: " + regimes.map { "`\(Self.figureFile($0))`" }.joined(separator: ", ") + ", `mechanism.csv` (every cell's means and standard errors).\n"
        return md
    }
}
