/// report.md: figures first, then findings, tables, per-step statistics, the redistribution
/// diagnostic and the full configuration.
extension ComparisonReport {
    static func cell(_ x: Double?, decimals: Int = 4) -> String { x.map { formatNumber($0, decimals: decimals) } ?? "–" }

    public var markdown: String {
        let steps = runs.first?.config.steps ?? 0
        let multiSeed = seeds.count > 1
        var md = "# Valence comparison\n\n"
        md += "\(objectives(window: windows.first ?? 0).count) objectives x \(windows.count) regime\(windows.count == 1 ? "" : "s") x "
        md += "\(seeds.count) seed\(seeds.count == 1 ? "" : "s") (\(seeds.map(String.init).joined(separator: ", "))), \(steps) steps each. "
        md += "Every number is measured on the test prompts"
        md += multiSeed ? "; tables give the mean ± standard error over seeds and the figures the mean.\n\n" : ".\n\n"
        md += "![Pass@k by objective, one panel per regime](passk.svg)\n\n"

        md += "## Findings\n\n"
        md += "Generated from the numbers below when this report was written.\n\n"
        for w in windows {
            md += "**\(Self.regimeName(w))**\n\n"
            for s in findings(window: w) { md += "- \(s)\n" }
            md += "\n"
        }

        md += "## Pass@k of the final policies\n\n"
        md += "Exact Pass@k = mean over test prompts of 1 - (1 - p_x)^k. Entropy is the mean row entropy over test prompts and "
        md += "positions (nats); greedy is the argmax accuracy. Data: `passk.csv` (every seed), `passk_summary.csv` (mean, SE).\n\n"
        for w in windows {
            md += "### \(Self.regimeName(w))\n\n"
            md += "| objective | " + PassAtK.ks.map { "pass@\($0)" }.joined(separator: " | ") + " | entropy | greedy |\n"
            md += "|---|" + String(repeating: "---:|", count: PassAtK.ks.count + 2) + "\n"
            for s in summaries(window: w) {
                md += "| \(s.label) | " + s.passAtK.map { $0.text() }.joined(separator: " | ")
                md += " | \(s.entropy.text()) | \(s.greedy.text()) |\n"
            }
            md += "\n"
        }

        md += sampledSection
        md += "## Training\n\n![Training curves: test Pass@1, Pass@256, entropy, batch fraction correct](training.svg)\n\n"
        md += stepSection
        md += entropySection
        md += redistributionSection
        md += configurationSection
        return md
    }

    var sampledSection: String {
        let shown = [1, 16, 256].compactMap { k in PassAtK.ks.firstIndex(of: k) }
        var md = ""
        var any = false
        for w in windows {
            let rows = summaries(window: w).filter { $0.sampled != nil }
            guard !rows.isEmpty else { continue }
            if !any {
                let n = rows.compactMap(\.samples).first.map(String.init) ?? "?"
                md += "## Sampled versus exact Pass@k\n\n"
                md += "n = \(n) rollouts per test prompt from each policy (eval temperature), scored with the unbiased estimator "
                md += "1 - C(n-c, k) / C(n, k); gap = sampled - exact. The last column is the largest |gap| over all k.\n\n"
                any = true
            }
            md += "### \(Self.regimeName(w))\n\n"
            md += "| objective | " + shown.map { "k=\(PassAtK.ks[$0]) exact | sampled | gap" }.joined(separator: " | ") + " | max abs gap |\n"
            md += "|---|" + String(repeating: "---:|", count: shown.count * 3 + 1) + "\n"
            for s in rows {
                guard let sampled = s.sampled else { continue }
                md += "| \(s.label) | "
                md += shown.map { i in
                    "\(formatNumber(s.passAtK[i].mean)) | \(formatNumber(sampled[i].mean)) | \(Self.signed(sampled[i].mean - s.passAtK[i].mean))"
                }.joined(separator: " | ")
                let maxGap = PassAtK.ks.indices.map { abs(sampled[$0].mean - s.passAtK[$0].mean) }.max() ?? 0
                md += " | \(formatNumber(maxGap)) |\n"
            }
            md += "\n"
        }
        return md
    }

    var stepSection: String {
        var md = "## Per-step statistics\n\n"
        md += "![Per-step diagnostics: gradient part norms, entropy change, redistribution correlation](diagnostics.svg)\n\n"
        md += "Means per training step over all steps\(seeds.count > 1 ? " and seeds" : ""). Positives and negatives are the batch's correct and "
        md += "wrong rollouts; solved all / none / some count prompts whose G rollouts were all, none or some correct; ‖g_PSR‖ and "
        md += "‖g_NSR‖ are the Frobenius norms of the gradient's correct-sample and wrong-sample parts under the objective's own "
        md += "advantages; dH is the change in mean test entropy per step, and total dH the change from base to final. "
        md += "Every step of every run: `steps.csv`.\n\n"
        for w in windows {
            md += "### \(Self.regimeName(w))\n\n"
            md += "| objective | fraction correct | positives | negatives | solved all | solved none | solved some | ‖g_PSR‖ | ‖g_NSR‖ | dH per step | total dH |\n"
            md += "|---|" + String(repeating: "---:|", count: 10) + "\n"
            for o in objectives(window: w) {
                let f = { (key: String, d: Int) in Self.cell(self.stepMean(window: w, label: o, key), decimals: d) }
                let bases = Dictionary(baseLines(window: w).map { ($0.seed, $0.entropy) }, uniquingKeysWith: { a, _ in a })
                let totals = runs(window: w).filter { $0.label == o }.compactMap { r -> Double? in
                    guard let f = r.final, let h0 = bases[r.seed] else { return nil }
                    return f.entropy - h0
                }
                md += "| \(o) | \(f("batch_correct", 3)) | \(f("positives", 1)) | \(f("negatives", 1)) | \(f("solved_all", 1)) | "
                md += "\(f("solved_none", 1)) | \(f("solved_some", 1)) | \(f("grad_norm_psr", 5)) | \(f("grad_norm_nsr", 5)) | "
                md += "\(f("entropy_delta", 5)) | \(MeanSE(totals)?.text() ?? "–") |\n"
            }
            md += "\n"
        }
        return md
    }

    var redistributionSection: String {
        var md = "## Mass redistribution (docs/model.md 1: where the probability taken from wrong tokens goes)\n\n"
        md += "For each step, on the rows (contexts) that received at least one wrong sample, comparing checkpoint N-1 with N: "
        md += "*mass removed* is the probability the penalised tokens lost; *corr* is the correlation, pooled over rows and "
        md += "their unsampled tokens, between a token's share of the unsampled tokens' gain and its share of their prior "
        md += "probability (1 = shared exactly by the prior); *TV* is the total-variation distance between those shares "
        md += "(0 = exactly by the prior); *to correct* is the fraction of all mass gained by non-penalised tokens that went to "
        md += "digits correct for some train prompt using the row, and *by prior* what a split by prior probability would have "
        md += "given them. Means over steps.\n\n"
        if runs.contains(where: { $0.config.optimizer == .adam }) {
            md += "With Adam a step's change in a row also carries the moments of earlier steps' gradients, so only step 1 "
            md += "(fresh optimizer state) isolates one step's own redistribution. Step 1 corr: "
            var items: [String] = []
            for w in windows {
                for o in objectives(window: w) {
                    let values = runs(window: w).filter { $0.label == o }.compactMap { $0.steps.first { $0.step == 1 }?.number("redist_corr") }
                    if let m = MeanSE(values) { items.append("\(o) w=\(w) \(formatNumber(m.mean, decimals: 3))") }
                }
            }
            md += (items.isEmpty ? "not measured" : items.joined(separator: ", ")) + ".\n\n"
        }
        for w in windows {
            md += "### \(Self.regimeName(w))\n\n"
            md += "| objective | rows per step | mass removed per step | corr | TV | to correct | by prior |\n"
            md += "|---|---:|---:|---:|---:|---:|---:|\n"
            for o in objectives(window: w) {
                let f = { (key: String, d: Int) in Self.cell(self.stepMean(window: w, label: o, key), decimals: d) }
                md += "| \(o) | \(f("redist_rows", 1)) | \(f("redist_removed", 4)) | \(f("redist_corr", 3)) | \(f("redist_tv", 3)) | "
                md += "\(f("redist_to_correct", 3)) | \(f("redist_prior_correct", 3)) |\n"
            }
            md += "\n"
        }
        return md
    }

    var configurationSection: String {
        var md = "## Configuration\n\n"
        md += "Every field of the runs' `config.json`; where runs differ, all their values are listed.\n\n"
        md += "| setting | value |\n|---|---|\n"
        var keys: [String] = []
        var values: [String: [String]] = [:]
        for run in runs {
            guard case .object(let fields) = run.config.json else { continue }
            for (key, value) in fields where key != "run" && key != "schema" {
                if values[key] == nil { keys.append(key) }
                let text = value.stringValue ?? String(decoding: value.compactBytes, as: UTF8.self)
                if !(values[key] ?? []).contains(text) { values[key, default: []].append(text) }
            }
        }
        for key in keys {
            let v = values[key] ?? []
            let shown = key == "task_id" && v.count > 3 ? "\(v.count) distinct (one per seed and digits)" : v.joined(separator: ", ")
            md += "| \(key) | \(shown) |\n"
        }
        md += "\nSeeds used: \(seeds.map(String.init).joined(separator: ", ")). "
        md += "Eval temperature: \(Array(Set(runs.map(\.config.evalTemperature))).sorted().map { formatNumber($0, decimals: 2) }.joined(separator: ", ")).\n\n"
        md += "Runs:\n\n"
        for run in runs { md += "- `\(run.path)` (\(run.label), w=\(run.config.window), seed \(run.seed))\n" }
        md += "\nFiles: `passk.svg`, `training.svg`, `diagnostics.svg`, `entropy.svg` (and `.png` copies when rsvg-convert is installed), "
        md += "`passk.csv`, `passk_summary.csv`, `steps.csv`.\n"
        return md
    }
}
