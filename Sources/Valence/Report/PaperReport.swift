/// `runs/paper/report.md`: the reference paper's Table 1 (docs/model.md 10) for the tabular analogue.
///
/// Rows: the base policy and each objective; columns: exact test Pass@k for k = 1 ... 256 as mean
/// ± standard error over seeds, in %, at eval temperature 1 and 0.6. Both temperatures come from
/// the final (and step-0) policy files: exact Pass@k is a function of the policy table, the test
/// prompts and T alone, so one trained run serves both and the run's identity (which holds its own
/// eval temperature for metrics.jsonl) is untouched. Runs are sorted into the paper's training
/// configuration (M = 4, clip 0.2, entropy 0.001), the plain step (M = 1, no clip, no entropy bonus)
/// and rows beyond the paper (passk, nsr-ul, clip-higher, KL-Cov, or any other setting). The paper's
/// own row end points (data/paper/table1.json) are printed beside ours, and each of its qualitative
/// claims is judged from our numbers by paired per-seed differences (a seed fixes the split and the
/// base policy): beyond twice the standard error either way, or not resolved by the seeds.
public struct PaperReport: Sendable {
    public static let temperatures = [1.0, 0.6]
    /// The paper's own numbers, relative to the repository root (where make runs).
    public static let referencePath = "data/paper/table1.json"
    public static let paperObjectives = ["psr", "nsr", "w-reinforce", "grpo", "ppo"]

    public enum Setting: String, Sendable, CaseIterable {
        case paper, plain, beyond
    }

    /// One row's exact Pass@k per seed, per temperature: values[seed][t][k index].
    public struct Row: Sendable {
        public var label: String
        public var setting: Setting
        public var window: Int
        public var values: [Int: [[Double]]]
    }

    public struct Reference: Sendable {
        public var ks: [Int]
        public var rows: [(String, [Double])]
    }

    public var rows: [Row]
    /// The base policy per window: seed -> per temperature Pass@k.
    public var base: [Int: [Int: [[Double]]]]
    public var reference: Reference?
    public var steps: Int

    /// The row label and setting of a run's config.
    public static func classify(_ c: RunConfig) -> (label: String, setting: Setting) {
        let o = UpdateOptions(config: c)
        var label = c.objective.rawValue
        if o.clipLow != o.clipHigh { label += " + clip-higher" }
        if o.klCov != nil { label += " + KL-Cov" }
        if o.clipCov != nil { label += " + Clip-Cov" }
        guard label == c.objective.rawValue, paperObjectives.contains(label) else { return (label, .beyond) }
        if c.minibatches == 4 && c.clip == 0.2 && c.entropyCoef == 0.001 && c.klCoef == 0 { return (label, .paper) }
        if c.minibatches == 1 && c.clip == nil && c.entropyCoef == 0 && c.klCoef == 0 { return (label, .plain) }
        return (label + " (M = \(c.minibatches), \(c.switchSummary))", .beyond)
    }

    /// Exact test Pass@k of a policy file at each report temperature.
    static func passAtK(run: String, step: Int, config: RunConfig) throws -> [[Double]] {
        let env = try StageEnvironment(run: run)
        let space = try config.space
        let policy = try TabularPolicy.read(from: env.layout.path(RunLayout.policy(step)), space: space).policy
        let prompts = try TaskPrompts.load(env, split: "test", withAnswers: false)
        let rows = PromptRows(space: space, prompts: prompts.pairs)  // once for all temperatures
        return temperatures.map { Evaluation.evaluate(policy: policy, rows: rows, temperature: $0).passAtK }
    }

    public static func load(runs paths: [String], reference: String? = nil) throws -> PaperReport {
        var rows: [String: Row] = [:]
        var order: [String] = []
        var base: [Int: [Int: [[Double]]]] = [:]
        var steps = 0
        for path in paths {
            let config = try RunConfig.load("\(path)/config.json")
            let seed = Int(bitPattern: UInt(config.seed))
            // The run's last step (its checkpoint must exist: a run not finished is an error naming the file).
            steps = max(steps, config.steps)
            let (label, setting) = classify(config)
            let key = "\(config.window)|\(setting.rawValue)|\(label)"
            if rows[key] == nil {
                rows[key] = Row(label: label, setting: setting, window: config.window, values: [:])
                order.append(key)
            }
            rows[key]?.values[seed] = try passAtK(run: path, step: config.steps, config: config)
            if base[config.window]?[seed] == nil {
                base[config.window, default: [:]][seed] = try passAtK(run: path, step: 0, config: config)
            }
        }
        var ref: Reference?
        if let reference {
            let json = try JSONFields.load(reference)
            let ks = try json.array("k").compactMap(\.intValue)
            let object = try json.object("rows")
            let pairs = (object.value.objectValue ?? []).map { ($0.0, ($0.1.arrayValue ?? []).compactMap(\.doubleValue)) }
            ref = Reference(ks: ks, rows: pairs)
        }
        // Rows in registry order within each setting.
        let rank = { (r: Row) -> Int in
            Objective.all.firstIndex { r.label.hasPrefix($0.rawValue) && (r.label == $0.rawValue || r.label.hasPrefix($0.rawValue + " ")) } ?? 99
        }
        let sorted = order.compactMap { rows[$0] }.sorted {
            ($0.window, Setting.allCases.firstIndex(of: $0.setting) ?? 0, rank($0), $0.label)
                < ($1.window, Setting.allCases.firstIndex(of: $1.setting) ?? 0, rank($1), $1.label)
        }
        return PaperReport(rows: sorted, base: base, reference: ref, steps: steps)
    }

    // MARK: Judging

    public enum Verdict: String, Sendable {
        case holds = "holds"
        case doesNotHold = "does not hold"
        case notResolved = "not resolved by the seeds"
    }

    /// Paired difference a - b over the seeds both have, at temperature t and k index i.
    static func difference(_ a: [Int: [[Double]]], _ b: [Int: [[Double]]], t: Int, k: Int) -> AblationReport.Estimate {
        let seeds = Set(a.keys).intersection(b.keys).sorted()
        return AblationReport.Estimate(seeds.compactMap { s in
            guard let x = a[s]?[t][k], let y = b[s]?[t][k] else { return nil }
            return x - y
        })
    }

    /// +1 beyond noise above, -1 below, 0 within, nil without a standard error.
    static func sign(_ d: AblationReport.Estimate) -> Int? {
        guard let se = d.standardError else { return nil }
        if d.mean > 2 * se { return 1 }
        if d.mean < -2 * se { return -1 }
        return 0
    }

    public struct Claim: Sendable {
        public var text: String
        public var verdict: Verdict
        public var evidence: String
    }

    /// The paper's qualitative claims (docs/model.md 10) judged on one window, setting and temperature.
    public func claims(window: Int, setting: Setting, t: Int) -> [Claim] {
        let kCount = PassAtK.ks.count
        func row(_ name: String) -> [Int: [[Double]]]? {
            rows.first { $0.window == window && $0.setting == setting && $0.label == name }?.values
        }
        guard let b = base[window] else { return [] }
        var out: [Claim] = []
        func pct(_ d: AblationReport.Estimate) -> String {
            formatNumber(100 * d.mean, decimals: 2) + (d.standardError.map { " ± " + formatNumber(100 * $0, decimals: 2) } ?? "") + " points"
        }
        if let psr = row("psr") {
            let d1 = Self.difference(psr, b, t: t, k: 0)
            out.append(Claim(text: "PSR lifts Pass@1 above the base policy", verdict: Self.verdict(Self.sign(d1), want: 1),
                             evidence: "PSR - base at k = 1: \(pct(d1))"))
            let dK = Self.difference(b, psr, t: t, k: kCount - 1)
            out.append(Claim(text: "PSR falls below the base policy at large k (k = 256)", verdict: Self.verdict(Self.sign(dK), want: 1),
                             evidence: "base - PSR at k = 256: \(pct(dK))"))
        }
        if let nsr = row("nsr") {
            let ds = (0..<kCount).map { Self.difference(nsr, b, t: t, k: $0) }
            let signs = ds.map(Self.sign)
            let verdict: Verdict = signs.contains { $0 == nil } ? .notResolved
                : signs.contains { $0 == -1 } ? .doesNotHold : signs.allSatisfy { $0 == 1 } ? .holds : .notResolved
            out.append(Claim(text: "NSR improves on the base policy across the whole Pass@k spectrum", verdict: verdict,
                             evidence: "NSR - base at k = 1, 16, 256: " + [0, 4, kCount - 1].map { pct(ds[$0]) }.joined(separator: "; ")))
            for other in ["ppo", "grpo"] {
                guard let o = row(other) else { continue }
                let ds = (0..<kCount).map { Self.difference(nsr, o, t: t, k: $0) }
                let signs = ds.map(Self.sign)
                let verdict: Verdict = signs.contains { $0 == nil } ? .notResolved : signs.contains { $0 == -1 } ? .doesNotHold : .holds
                out.append(Claim(text: "NSR matches or beats \(other.uppercased()) at every k", verdict: verdict,
                                 evidence: "NSR - \(other.uppercased()) at k = 1, 16, 256: " + [0, 4, kCount - 1].map { pct(ds[$0]) }.joined(separator: "; ")))
            }
        }
        if let wr = row("w-reinforce") {
            var worse: [Int] = [], unresolved = false
            for k in 0..<kCount {
                for name in Self.paperObjectives where name != "w-reinforce" {
                    guard let o = row(name) else { continue }
                    let s = Self.sign(Self.difference(wr, o, t: t, k: k))
                    if s == nil { unresolved = true }
                    if s == -1 && !worse.contains(PassAtK.ks[k]) { worse.append(PassAtK.ks[k]) }
                }
            }
            let verdict: Verdict = unresolved ? .notResolved : worse.isEmpty ? .holds : .doesNotHold
            out.append(Claim(text: "W-REINFORCE is best or near best (within noise of the best) at every k", verdict: verdict,
                             evidence: worse.isEmpty ? "no objective beats it beyond noise at any k"
                                 : "beaten beyond noise at k = " + worse.map(String.init).joined(separator: ", ")))
        }
        return out
    }

    static func verdict(_ sign: Int?, want: Int) -> Verdict {
        guard let sign else { return .notResolved }
        return sign == want ? .holds : sign == -want ? .doesNotHold : .notResolved
    }

    // MARK: Markdown

    static func cell(_ values: [Int: [[Double]]], t: Int, k: Int) -> String {
        let e = AblationReport.Estimate(values.keys.sorted().compactMap { values[$0]?[t][k] })
        return formatNumber(100 * e.mean, decimals: 1) + (e.standardError.map { " ± " + formatNumber(100 * $0, decimals: 1) } ?? "")
    }

    func table(window: Int, setting: Setting, t: Int, includeBeyond: Bool) -> String {
        let ks = PassAtK.ks
        let refKs = reference?.ks ?? []
        var md = "| row | seeds | " + ks.map { "k = \($0)" }.joined(separator: " | ")
        md += refKs.map { " | paper k = \($0)" }.joined() + " |\n"
        md += "|---|---:|" + String(repeating: "---:|", count: ks.count + refKs.count) + "\n"
        func line(_ label: String, _ values: [Int: [[Double]]], ref: String?) {
            md += "| \(label) | \(values.count) | " + ks.indices.map { Self.cell(values, t: t, k: $0) }.joined(separator: " | ")
            let refRow = ref.flatMap { name in reference?.rows.first { $0.0 == name }?.1 }
            md += refKs.indices.map { i in " | " + (refRow.map { $0.indices.contains(i) ? formatNumber($0[i], decimals: 1) : "" } ?? "") }.joined()
            md += " |\n"
        }
        if let b = base[window] { line("base", b, ref: "base") }
        for r in rows where r.window == window && (r.setting == setting || (includeBeyond && r.setting == .beyond)) {
            let label = r.setting == .beyond ? "\(r.label) *(beyond the paper)*" : r.label
            line(label, r.values, ref: r.setting == .beyond ? nil : r.label)
        }
        return md
    }

    public var markdown: String {
        var md = "# Valence: the reference paper's Table 1, tabular analogue\n\n"
        md += "Exact test-set Pass@k (%) after \(steps) steps, mean ± standard error over seeds (sample sd / sqrt(n)), "
        md += "for the base policy and each objective, at eval temperature 1 and 0.6 (the paper evaluates at 0.6). "
        md += "\"paper k = ...\" are the paper's own end points (Qwen2.5-Math-7B on MATH, docs/model.md 10): a different model and task, "
        md += "printed for the shape of the comparison, not the numbers. Claims are judged by paired per-seed differences "
        md += "(beyond twice their standard error).\n\n"
        let windows = Set(rows.map(\.window)).union(base.keys).sorted()
        for w in windows {
            md += "## Window \(w)\n\n"
            for (t, temperature) in Self.temperatures.enumerated() {
                let tt = formatNumber(temperature, decimals: 2)
                md += "### Table 1: the paper's training configuration (M = 4, clip 0.2, entropy 0.001, no KL, lambda 0.1), eval T = \(tt)\n\n"
                md += table(window: w, setting: .paper, t: t, includeBeyond: true) + "\n"
                md += "The paper's claims, from these numbers (T = \(tt)):\n\n"
                for c in claims(window: w, setting: .paper, t: t) { md += "- \(c.text): **\(c.verdict.rawValue)** (\(c.evidence)).\n" }
                md += "\n### Table 2: the plain step (M = 1, no clip, no entropy bonus), eval T = \(tt)\n\n"
                md += table(window: w, setting: .plain, t: t, includeBeyond: false) + "\n"
                let plainClaims = claims(window: w, setting: .plain, t: t)
                if !plainClaims.isEmpty {
                    md += "The same claims under the plain step (T = \(tt)):\n\n"
                    for c in plainClaims { md += "- \(c.text): **\(c.verdict.rawValue)** (\(c.evidence)).\n" }
                    md += "\n"
                }
            }
        }
        return md
    }

    public func write(to directory: String) throws {
        try FileSystem.makeDirectories(directory)
        try FileSystem.writeAtomically("\(directory)/report.md", text: markdown)
    }
}
