/// The ablation of where NSR's advantage comes from: finished runs grouped into cells by the update
/// switches that vary (optimizer, minibatches M, PPO clip), each objective's final test metrics
/// averaged over seeds, and sentences, generated from the numbers, saying in which cells PSR and
/// NSR differ beyond noise.
///
/// Noise: the standard error of a cell's mean over seeds is the sample standard deviation / sqrt(n).
/// A seed fixes the prompt split and the base policy, so PSR and NSR runs of one seed are paired: the
/// difference NSR - PSR is judged by the standard error of the per-seed differences (paired), which
/// removes the seed-to-seed spread of the base policy. PSR and NSR "differ beyond noise" on a metric
/// when |mean difference| > 2 * that standard error. When the two objectives do not share their
/// seeds it falls back to the combined error sqrt(se_psr^2 + se_nsr^2). With one seed there is no
/// standard error and the report says so rather than judging.
public struct AblationReport: Sendable {
    /// The switches that define a cell.
    public struct Cell: Sendable, Hashable, Comparable {
        public var optimizer: OptimizerKind
        public var minibatches: Int
        public var clip: Double?

        public init(_ c: RunConfig) {
            optimizer = c.optimizer
            minibatches = c.minibatches
            clip = c.clip
        }

        public var label: String {
            "\(optimizer.rawValue), M = \(minibatches), " + (clip.map { "clip \(formatNumber($0, decimals: 3))" } ?? "no clip")
        }

        public static func < (l: Cell, r: Cell) -> Bool {
            let lo = OptimizerKind.allCases.firstIndex(of: l.optimizer) ?? 0
            let ro = OptimizerKind.allCases.firstIndex(of: r.optimizer) ?? 0
            if lo != ro { return lo < ro }
            if l.minibatches != r.minibatches { return l.minibatches < r.minibatches }
            return (l.clip ?? -1) < (r.clip ?? -1)
        }
    }

    /// Mean and standard error of one metric over seeds.
    public struct Estimate: Sendable {
        public var mean: Double
        /// nil with fewer than two seeds.
        public var standardError: Double?
        public var n: Int

        public init(_ xs: [Double]) {
            n = xs.count
            mean = xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count)
            if xs.count >= 2 {
                let m = mean
                let variance = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)
                standardError = (variance / Double(xs.count)).squareRoot()
            } else {
                standardError = nil
            }
        }

        public var text: String {
            formatNumber(mean) + (standardError.map { " ± " + formatNumber($0) } ?? "")
        }
    }

    /// The metrics the table reports, by name and how to read them off a metrics line.
    public static let metrics: [(name: String, value: @Sendable (MetricsLine) -> Double)] = [
        ("Pass@1", { $0.passAtK[0] }),
        ("Pass@256", { $0.passAtK[PassAtK.ks.count - 1] }),
        ("entropy", { $0.entropy }),
    ]

    public struct Row: Sendable {
        public var cell: Cell
        public var objective: Objective
        public var seeds: [Int]
        public var estimates: [Estimate]
        /// Final values per metric, in `seeds` order.
        public var values: [[Double]]
        /// Mean fraction of tokens on PPO's clipped branch over the runs' steps (nil without clip).
        public var clipFraction: Double?
    }

    public var runs: [ComparisonReport.Run]
    public var rows: [Row]
    public var base: [Estimate]

    public static func load(runs paths: [String]) throws -> AblationReport {
        let runs = try ComparisonReport.load(runs: paths).runs
        return AblationReport(runs: runs)
    }

    public init(runs: [ComparisonReport.Run]) {
        self.runs = runs
        var groups: [Cell: [Objective: [ComparisonReport.Run]]] = [:]
        for run in runs { groups[Cell(run.config), default: [:]][run.config.objective, default: []].append(run) }
        for cell in groups.keys {
            for (o, group) in groups[cell] ?? [:] { groups[cell]?[o] = group.sorted { $0.config.seed < $1.config.seed } }
        }
        var rows: [Row] = []
        for cell in groups.keys.sorted() {
            let byObjective = groups[cell] ?? [:]
            for objective in Objective.allCases {
                guard let group = byObjective[objective] else { continue }
                let finals = group.compactMap(\.final)
                let values = AblationReport.metrics.map { m in finals.map { m.value($0) } }
                var clipFraction: Double?
                if cell.clip != nil {
                    let fractions = group.flatMap { AblationReport.clipFractions($0) }
                    if !fractions.isEmpty { clipFraction = fractions.reduce(0, +) / Double(fractions.count) }
                }
                rows.append(Row(cell: cell, objective: objective, seeds: group.map { Int($0.config.seed) },
                                estimates: values.map { Estimate($0) }, values: values, clipFraction: clipFraction))
            }
        }
        self.rows = rows
        // The base policy depends on the seed only: one value per seed.
        var baseBySeed: [UInt64: MetricsLine] = [:]
        for run in runs { if let b = run.base { baseBySeed[run.config.seed] = b } }
        let bases = baseBySeed.keys.sorted().compactMap { baseBySeed[$0] }
        base = AblationReport.metrics.map { m in Estimate(bases.map { m.value($0) }) }
    }

    public var cells: [Cell] { Array(Set(rows.map(\.cell))).sorted() }

    /// The `clip_fraction` of each step's update manifest (absent ones skipped).
    static func clipFractions(_ run: ComparisonReport.Run) -> [Double] {
        let layout = RunLayout(root: run.path)
        guard run.config.steps >= 1 else { return [] }
        return (1...run.config.steps).compactMap { step in
            let path = layout.path(RunLayout.checkpointManifest(step))
            return (try? Manifest.read(path)).flatMap { try? UpdateStats($0, path: path).clipFraction }
        }
    }

    public func row(_ cell: Cell, _ objective: Objective) -> Row? {
        rows.first { $0.cell == cell && $0.objective == objective }
    }

    /// NSR minus PSR on one metric of one cell, with its standard error.
    public struct Difference: Sendable {
        public var metric: String
        public var diff: Double
        /// Paired (per-seed differences) when the seeds match, else combined; nil with one seed.
        public var combinedSE: Double?
        public var paired: Bool
        /// nil when there is no standard error to judge by.
        public var beyondNoise: Bool? {
            combinedSE.map { abs(diff) > 2 * $0 }
        }
    }

    public func psrVsNsr(_ cell: Cell) -> [Difference]? {
        guard let p = row(cell, .psr), let n = row(cell, .nsr) else { return nil }
        let paired = p.seeds == n.seeds
        return AblationReport.metrics.indices.map { i in
            let name = AblationReport.metrics[i].name
            if paired {
                let d = Estimate(zip(n.values[i], p.values[i]).map { $0 - $1 })
                return Difference(metric: name, diff: d.mean, combinedSE: d.standardError, paired: true)
            }
            let a = p.estimates[i], b = n.estimates[i]
            var se: Double?
            if let sa = a.standardError, let sb = b.standardError { se = (sa * sa + sb * sb).squareRoot() }
            return Difference(metric: name, diff: b.mean - a.mean, combinedSE: se, paired: false)
        }
    }

    static func signed(_ x: Double) -> String { (x >= 0 ? "+" : "") + formatNumber(x) }

    public var markdown: String {
        var md = "# Valence ablation: where does NSR's advantage come from?\n\n"
        md += "Final exact test-set metrics of each objective under each combination of optimizer, minibatches per step "
        md += "(M) and PPO clipping, as mean ± standard error over seeds (sample sd / sqrt(n)). Entropy is the mean row "
        md += "entropy over test prompts and positions (nats). With tabular softmax and plain SGD, M = 1 and no clip, "
        md += "PSR and NSR have equal expected gradients (docs/model.md 5.7): their differences there come from finite samples alone.\n\n"
        let seedCount = Set(runs.map(\.config.seed)).count
        md += "| cell | objective | seeds | " + AblationReport.metrics.map(\.name).joined(separator: " | ") + " | clipped tokens |\n"
        md += "|---|---|---:|" + String(repeating: "---:|", count: AblationReport.metrics.count + 1) + "\n"
        md += "| (base policy) | base | \(seedCount) | " + base.map(\.text).joined(separator: " | ") + " | |\n"
        for row in rows {
            md += "| \(row.cell.label) | \(row.objective.rawValue) | \(row.seeds.count) | "
            md += row.estimates.map(\.text).joined(separator: " | ")
            md += " | " + (row.clipFraction.map { formatNumber(100 * $0, decimals: 3) + "%" } ?? "") + " |\n"
        }
        md += "\n\"clipped tokens\" is the mean share of tokens on PPO's clipped branch over all steps (only later minibatches "
        md += "can clip: the first is measured under the generating policy, where every ratio is 1).\n"
        md += "\n## PSR and NSR, cell by cell\n\n"
        md += "NSR minus PSR per metric (mean over seeds of the per-seed difference: a seed fixes the split and the base "
        md += "policy, so the runs are paired), with the standard error of that mean in brackets; a difference counts as "
        md += "beyond noise when it exceeds twice its standard error.\n\n"
        var differing: [String] = []
        var judged = 0
        for cell in cells {
            guard let diffs = psrVsNsr(cell) else { continue }
            let parts = diffs.map { d -> String in
                let se = d.combinedSE.map { " (SE \(formatNumber($0))\(d.paired ? "" : ", unpaired"))" } ?? ""
                let verdict = d.beyondNoise.map { $0 ? ", beyond noise" : ", within noise" } ?? ""
                return "\(d.metric) \(AblationReport.signed(d.diff))\(se)\(verdict)"
            }
            md += "- \(cell.label): " + parts.joined(separator: "; ") + ".\n"
            if diffs.contains(where: { $0.beyondNoise != nil }) { judged += 1 }
            let beyond = diffs.filter { $0.beyondNoise == true }
            if !beyond.isEmpty {
                differing.append("\(cell.label) (" + beyond.map { "\($0.metric) \(AblationReport.signed($0.diff))" }.joined(separator: ", ") + ")")
            }
        }
        md += "\n"
        if judged == 0 {
            md += "With one seed per cell there is no standard error, so no difference can be judged against noise; run more seeds.\n"
        } else {
            if differing.isEmpty {
                md += "PSR and NSR do not differ beyond noise in any of the \(judged) cells.\n"
            } else {
                md += "PSR and NSR differ beyond noise in \(differing.count) of \(judged) cells: " + differing.joined(separator: "; ") + ".\n"
            }
            let plain = cells.first { $0.optimizer == .sgd && $0.minibatches == 1 && $0.clip == nil }
            if let plain, let diffs = psrVsNsr(plain), diffs.contains(where: { $0.beyondNoise != nil }) {
                let beyond = diffs.filter { $0.beyondNoise == true }
                if beyond.isEmpty {
                    md += "In the plain cell (\(plain.label)), where their expected gradients are equal, they match within noise on all \(diffs.count) metrics.\n"
                } else {
                    md += "In the plain cell (\(plain.label)), where their expected gradients are equal, they still differ beyond noise on "
                    md += beyond.map(\.metric).joined(separator: ", ") + ": finite-sample effects alone separate them.\n"
                }
            }
        }
        if let c = runs.first?.config {
            md += "\n## Configuration\n\n"
            md += "Seeds: \(Set(runs.map(\.config.seed)).sorted().map(String.init).joined(separator: ", ")); window \(c.window); "
            md += "task add with nd = \(c.digits) (\(c.trainPrompts) train / \(c.testPrompts) test prompts); base policy from \(c.corpus) "
            md += "noisy solutions; B = \(c.batch) prompts x G = \(c.group) rollouts per step, \(c.steps) steps; "
            md += "learning rate " + Array(Set(runs.map { "\($0.config.optimizer.rawValue) \(formatNumber($0.config.learningRate, decimals: 4))" })).sorted().joined(separator: ", ")
            md += "; lambda \(c.lambda) for w-reinforce. The \(runs.count) runs are listed in ablation.csv.\n"
        }
        return md
    }

    /// One line per run: its cell, objective, seed and final metrics.
    public var csv: String {
        var out = "optimizer,minibatches,clip,objective,seed,step,pass@1,pass@256,entropy,greedy,run\n"
        for run in runs {
            guard let f = run.final else { continue }
            let c = run.config
            out += "\(c.optimizer.rawValue),\(c.minibatches),\(c.clip.map { formatNumber($0, decimals: 3) } ?? "off"),"
            out += "\(c.objective.rawValue),\(c.seed),\(f.step),\(formatNumber(f.passAtK[0], decimals: 6)),"
            out += "\(formatNumber(f.passAtK[PassAtK.ks.count - 1], decimals: 6)),\(formatNumber(f.entropy, decimals: 6)),"
            out += "\(formatNumber(f.greedy, decimals: 6)),\(run.path)\n"
        }
        return out
    }

    public func write(to directory: String) throws {
        try FileSystem.makeDirectories(directory)
        try FileSystem.writeAtomically("\(directory)/ablation.csv", text: csv)
        try FileSystem.writeAtomically("\(directory)/report.md", text: markdown)
    }
}
