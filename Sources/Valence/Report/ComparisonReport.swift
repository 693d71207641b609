/// The comparison of several finished runs: per regime (context window), the base policy and each
/// objective's final checkpoint, on the test prompts.
public struct ComparisonReport: Sendable {
    public struct Run: Sendable {
        public var path: String
        public var config: RunConfig
        public var lines: [MetricsLine]

        public var test: [MetricsLine] { lines.filter { $0.split == "test" } }
        public var base: MetricsLine? { test.first { $0.step == 0 } }
        public var final: MetricsLine? { test.max { $0.step < $1.step } }
    }

    public var runs: [Run]

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

    public func runs(window: Int) -> [Run] { runs.filter { $0.config.window == window } }

    /// One table row: a label and its final metrics.
    public struct Row: Sendable {
        public var label: String
        public var line: MetricsLine
    }

    public func rows(window: Int) -> [Row] {
        let group = runs(window: window)
        var rows: [Row] = []
        if let base = group.first?.base { rows.append(Row(label: "base", line: base)) }
        for run in group {
            if let final = run.final { rows.append(Row(label: run.config.objective.rawValue, line: final)) }
        }
        return rows
    }

    public var csv: String {
        var out = "window,objective,seed,step," + PassAtK.ks.map { "pass@\($0)" }.joined(separator: ",") + ",entropy,greedy\n"
        for w in windows {
            for row in rows(window: w) {
                let l = row.line
                out += "\(w),\(row.label),\(l.seed),\(l.step),"
                out += l.passAtK.map { formatNumber($0, decimals: 6) }.joined(separator: ",")
                out += ",\(formatNumber(l.entropy, decimals: 6)),\(formatNumber(l.greedy, decimals: 6))\n"
            }
        }
        return out
    }

    public var markdown: String {
        var md = "# Valence comparison\n\n"
        md += "Exact test-set Pass@k of each objective's final policy next to the base policy, one table per regime "
        md += "(context window w). Entropy is the mean row entropy over test prompts and positions (nats); greedy is "
        md += "the argmax accuracy.\n\n"
        for w in windows {
            let rows = rows(window: w)
            let steps = runs(window: w).first?.config.steps ?? 0
            md += "## Regime WINDOW=\(w)\n\n"
            md += "\(runs(window: w).count) objectives, \(steps) steps each.\n\n"
            md += "| objective | " + PassAtK.ks.map { "pass@\($0)" }.joined(separator: " | ") + " | entropy | greedy |\n"
            md += "|---|" + String(repeating: "---:|", count: PassAtK.ks.count + 2) + "\n"
            for row in rows {
                let l = row.line
                md += "| \(row.label) | " + l.passAtK.map { formatNumber($0) }.joined(separator: " | ")
                md += " | \(formatNumber(l.entropy)) | \(formatNumber(l.greedy)) |\n"
            }
            md += "\n"
        }
        if let c = runs.first?.config {
            md += "## Configuration\n\n"
            md += "seed \(c.seed); task add with nd = \(c.digits) (\(c.trainPrompts) train / \(c.testPrompts) test prompts); "
            md += "base policy from \(c.corpus) noisy solutions (forget \(c.forget), noise \(c.noise), alpha \(c.alpha)); "
            md += "B = \(c.batch) prompts x G = \(c.group) rollouts per step; \(c.optimizer.rawValue), lr \(c.learningRate); "
            md += "lambda \(c.lambda) for w-reinforce; eval temperature \(c.evalTemperature); update switches: \(c.switchSummary).\n\n"
            md += "Runs: " + runs.map { "`\($0.path)`" }.joined(separator: ", ") + "\n"
        }
        return md
    }

    public func write(to directory: String) throws {
        try FileSystem.makeDirectories(directory)
        try FileSystem.writeAtomically("\(directory)/passk.csv", text: csv)
        try FileSystem.writeAtomically("\(directory)/report.md", text: markdown)
    }
}
