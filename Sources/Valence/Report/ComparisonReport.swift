/// The comparison of several finished runs: per regime (context window), the base policy and each
/// objective's final checkpoint on the test prompts, aggregated over seeds (mean and standard
/// error), with figures, findings generated from the numbers, per-step statistics and the
/// mass-redistribution diagnostic.
public struct ComparisonReport: Sendable {
    public struct Run: Sendable {
        public var path: String
        public var config: RunConfig
        public var lines: [MetricsLine]

        public init(path: String, config: RunConfig, lines: [MetricsLine]) {
            self.path = path
            self.config = config
            self.lines = lines
        }

        public var label: String { config.objective.rawValue }
        public var seed: Int { Int(bitPattern: UInt(config.seed)) }
        public var test: [MetricsLine] { lines.filter { $0.split == "test" } }
        public var base: MetricsLine? { test.first { $0.step == 0 } }
        public var final: MetricsLine? { test.max { $0.step < $1.step } }
        /// Test lines of training steps (1...), in step order.
        public var steps: [MetricsLine] { test.filter { $0.step > 0 }.sorted { $0.step < $1.step } }
    }

    public var runs: [Run]

    public init(runs: [Run]) { self.runs = runs }

    public static func load(runs paths: [String]) throws -> ComparisonReport {
        var runs: [Run] = []
        for path in paths {
            let layout = RunLayout(root: path)
            let config = try layout.loadConfig()
            let lines = try MetricsLine.load(layout.metrics)
            let run = Run(path: path, config: config, lines: lines)
            guard let final = run.final else {
                throw ValenceError.badData(path: layout.metrics, line: nil, detail: "has no test evaluation yet")
            }
            if final.step < config.steps {
                throw ValenceError.badData(path: layout.metrics, line: nil, detail: "run is at step \(final.step) of \(config.steps); finish it first (make run)")
            }
            runs.append(run)
        }
        return ComparisonReport(runs: runs)
    }

    public var windows: [Int] { Array(Set(runs.map(\.config.window))).sorted() }
    public var seeds: [Int] { Array(Set(runs.map(\.seed))).sorted() }

    public func runs(window: Int) -> [Run] { runs.filter { $0.config.window == window } }

    /// The objectives of a regime in the order their runs were given.
    public func objectives(window: Int) -> [String] {
        var out: [String] = []
        for run in runs(window: window) where !out.contains(run.label) { out.append(run.label) }
        return out
    }

    /// One seed's base line per seed of the regime (every run of a seed starts from the same base).
    public func baseLines(window: Int) -> [MetricsLine] {
        var out: [MetricsLine] = []
        var seen: Set<Int> = []
        for run in runs(window: window) where !seen.contains(run.seed) {
            if let base = run.base {
                seen.insert(run.seed)
                out.append(base)
            }
        }
        return out
    }

    /// The final (or base) lines of one label in a regime, one per seed.
    public func finalLines(window: Int, label: String) -> [MetricsLine] {
        if label == "base" { return baseLines(window: window) }
        return runs(window: window).filter { $0.label == label }.compactMap(\.final)
    }

    /// One table row: a label and its final metrics (one seed).
    public struct Row: Sendable {
        public var label: String
        public var line: MetricsLine
    }

    /// Per seed: the base row, then each objective's final row.
    public func rows(window: Int) -> [Row] {
        var rows: [Row] = []
        for seed in seeds {
            let group = runs(window: window).filter { $0.seed == seed }
            if let base = group.first?.base { rows.append(Row(label: "base", line: base)) }
            for run in group {
                if let final = run.final { rows.append(Row(label: run.label, line: final)) }
            }
        }
        return rows
    }

    // MARK: Aggregates over seeds

    /// What the report shows for one label in one regime: each number's mean and standard error
    /// over the seeds.
    public struct Summary: Sendable {
        public var label: String
        public var seeds: Int
        public var passAtK: [MeanSE]
        public var entropy: MeanSE
        public var greedy: MeanSE
        /// The sampled estimate, when every seed's line has one (nil otherwise).
        public var sampled: [MeanSE]?
        public var samples: Int?
    }

    public func summary(window: Int, label: String) -> Summary? {
        let lines = finalLines(window: window, label: label)
        guard !lines.isEmpty, let entropy = MeanSE(lines.map(\.entropy)), let greedy = MeanSE(lines.map(\.greedy)) else { return nil }
        let pass = PassAtK.ks.indices.compactMap { i in MeanSE(lines.map { $0.passAtK[i] }) }
        var sampled: [MeanSE]?
        let sampledValues = lines.map(\.sampledPassAtK)
        if sampledValues.allSatisfy({ $0 != nil }) {
            sampled = PassAtK.ks.indices.compactMap { i in MeanSE(sampledValues.compactMap { $0?[i] }) }
        }
        return Summary(label: label, seeds: lines.count, passAtK: pass, entropy: entropy, greedy: greedy,
                       sampled: sampled, samples: lines.compactMap { $0.number("sampled_n") }.first.map { Int($0) })
    }

    /// Base first, then the objectives in run order.
    public func summaries(window: Int) -> [Summary] {
        (["base"] + objectives(window: window)).compactMap { summary(window: window, label: $0) }
    }

    /// The mean over seeds, per step, of a test-line value (steps where no seed has it are left out).
    public func curve(window: Int, label: String, includeBase: Bool, _ value: (MetricsLine) -> Double?) -> [(x: Double, y: Double)] {
        var byStep: [Int: [Double]] = [:]
        for run in runs(window: window) where run.label == label {
            for line in run.test where includeBase || line.step > 0 {
                if let v = value(line), v.isFinite { byStep[line.step, default: []].append(v) }
            }
        }
        return byStep.keys.sorted().compactMap { step in
            MeanSE(byStep[step] ?? []).map { (x: Double(step), y: $0.mean) }
        }
    }

    /// Mean over training steps and seeds of a per-step field of one objective.
    public func stepMean(window: Int, label: String, _ key: String) -> Double? {
        let values = runs(window: window).filter { $0.label == label }.flatMap(\.steps).compactMap { $0.number(key) }.filter(\.isFinite)
        return MeanSE(values)?.mean
    }

    // MARK: Files

    public var csv: String {
        var out = "window,objective,seed,step," + PassAtK.ks.map { "pass@\($0)" }.joined(separator: ",") + ",entropy,greedy,sampled_n,"
        out += PassAtK.ks.map { "sampled_pass@\($0)" }.joined(separator: ",") + "\n"
        for w in windows {
            for row in rows(window: w) {
                let l = row.line
                out += "\(w),\(row.label),\(l.seed),\(l.step),"
                out += l.passAtK.map { formatNumber($0, decimals: 6) }.joined(separator: ",")
                out += ",\(formatNumber(l.entropy, decimals: 6)),\(formatNumber(l.greedy, decimals: 6)),"
                if let s = l.sampledPassAtK, let n = l.number("sampled_n") {
                    out += "\(Int(n)),"
                    out += s.map { formatNumber($0, decimals: 6) }.joined(separator: ",")
                } else {
                    out += String(repeating: ",", count: PassAtK.ks.count)
                }
                out += "\n"
            }
        }
        return out
    }

    /// Mean and standard error over seeds per regime, label and k.
    public var summaryCSV: String {
        var out = "window,objective,seeds,k,pass_mean,pass_se,sampled_mean,sampled_se\n"
        for w in windows {
            for s in summaries(window: w) {
                for (i, k) in PassAtK.ks.enumerated() {
                    let p = s.passAtK[i]
                    out += "\(w),\(s.label),\(s.seeds),\(k),\(formatNumber(p.mean, decimals: 6)),\(p.se.map { formatNumber($0, decimals: 6) } ?? ""),"
                    if let sampled = s.sampled {
                        out += "\(formatNumber(sampled[i].mean, decimals: 6)),\(sampled[i].se.map { formatNumber($0, decimals: 6) } ?? "")"
                    } else {
                        out += ","
                    }
                    out += "\n"
                }
            }
        }
        return out
    }

    static let stepKeys = ["batch_correct", "positives", "negatives", "solved_all", "solved_none", "solved_some",
                           "grad_norm", "grad_norm_psr", "grad_norm_nsr", "entropy_delta"] + EntropyDecomposition.fieldNames
        + RedistributionDiagnostic.fieldNames

    /// Every training step of every run: the per-step statistics behind the figures.
    public var stepsCSV: String {
        var out = "window,objective,seed,step,pass@1,pass@256,entropy,greedy," + Self.stepKeys.joined(separator: ",") + "\n"
        for run in runs {
            for l in run.steps {
                out += "\(run.config.window),\(run.label),\(run.seed),\(l.step),\(formatNumber(l.passAtK[0], decimals: 6)),"
                out += "\(formatNumber(l.passAtK[PassAtK.ks.count - 1], decimals: 6)),\(formatNumber(l.entropy, decimals: 6)),\(formatNumber(l.greedy, decimals: 6))"
                for key in Self.stepKeys {
                    out += "," + (l.number(key).map { formatNumber($0, decimals: 6) } ?? "")
                }
                out += "\n"
            }
        }
        return out
    }

    public static let figureFiles = ["passk.svg", "training.svg", "diagnostics.svg", "entropy.svg"]

    public func write(to directory: String) throws {
        try FileSystem.makeDirectories(directory)
        try FileSystem.writeAtomically("\(directory)/passk.csv", text: csv)
        try FileSystem.writeAtomically("\(directory)/passk_summary.csv", text: summaryCSV)
        try FileSystem.writeAtomically("\(directory)/steps.csv", text: stepsCSV)
        try FileSystem.writeAtomically("\(directory)/passk.svg", text: passkFigure)
        try FileSystem.writeAtomically("\(directory)/training.svg", text: trainingFigure)
        try FileSystem.writeAtomically("\(directory)/diagnostics.svg", text: diagnosticsFigure)
        try FileSystem.writeAtomically("\(directory)/entropy.svg", text: entropyFigure)
        try FileSystem.writeAtomically("\(directory)/report.md", text: markdown)
    }
}

/// A mean with its standard error (sample standard deviation / sqrt(n)); the error is nil for a
/// single value, where it is unknown rather than zero.
public struct MeanSE: Sendable, Equatable {
    public var mean: Double
    public var se: Double?
    public var count: Int

    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        count = values.count
        mean = values.reduce(0, +) / Double(values.count)
        if values.count > 1 {
            let m = mean
            let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)
            se = (variance / Double(values.count)).squareRoot()
        } else {
            se = nil
        }
    }

    public func text(decimals: Int = 4) -> String {
        guard let se else { return formatNumber(mean, decimals: decimals) }
        return "\(formatNumber(mean, decimals: decimals)) ± \(formatNumber(se, decimals: decimals))"
    }
}

extension MetricsLine {
    /// The sampled Pass@k values, when this line was evaluated with `--samples`.
    public var sampledPassAtK: [Double]? {
        let values = PassAtK.ks.compactMap { number("sampled_pass@\($0)") }
        return values.count == PassAtK.ks.count ? values : nil
    }
}
