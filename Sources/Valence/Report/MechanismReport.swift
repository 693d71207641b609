/// The group-size study of docs/mechanism.md: finished runs grouped by regime (context window x
/// optimizer), setting (sampled with group size G, or expected mode) and objective, with each final
/// test metric's mean and standard error over seeds, the paired NSR - PSR differences per setting,
/// a figure per regime and findings generated from the numbers.
///
/// Noise: a seed fixes the split, the base policy and every step's prompt draw, so the PSR and NSR
/// runs of one seed are paired; the NSR - PSR difference is judged by the standard error of the
/// per-seed differences. A gap is *resolved* when |mean| > 2 SE. In expected mode psr and nsr have
/// the same weights, so their difference is exactly zero up to rounding (|gap| < 1e-9: *vanishes*).
public struct MechanismReport: Sendable {
    public struct Regime: Sendable, Hashable, Comparable {
        public var window: Int
        public var optimizer: OptimizerKind
        public var label: String { "WINDOW=\(window), \(optimizer.rawValue)" }
        public var slug: String { "w\(window)-\(optimizer.rawValue)" }
        public static func < (l: Regime, r: Regime) -> Bool {
            (l.window, OptimizerKind.allCases.firstIndex(of: l.optimizer) ?? 0) < (r.window, OptimizerKind.allCases.firstIndex(of: r.optimizer) ?? 0)
        }
    }

    /// A group size with sampled rollouts, or expected mode (drawn at the right edge).
    public enum Setting: Sendable, Hashable, Comparable {
        case sampled(group: Int)
        case expected

        public var label: String {
            switch self {
            case .sampled(let g): "G = \(g)"
            case .expected: "expected"
            }
        }

        public static func < (l: Setting, r: Setting) -> Bool {
            switch (l, r) {
            case let (.sampled(a), .sampled(b)): a < b
            case (.sampled, .expected): true
            default: false
            }
        }
    }

    public struct Run: Sendable {
        public var path: String
        public var config: RunConfig
        public var final: MetricsLine
        public var regime: Regime { Regime(window: config.window, optimizer: config.optimizer) }
        public var setting: Setting { config.rollouts == .expected ? .expected : .sampled(group: config.group) }
        public var seed: Int { Int(bitPattern: UInt(config.seed)) }
    }

    /// The metrics the study follows, with how a final line gives each.
    public static let metrics: [(key: String, title: String, value: @Sendable (MetricsLine) -> Double)] = [
        ("entropy", "Final entropy (nats)", { $0.entropy }),
        ("pass@1", "Final Pass@1", { $0.passAtK[0] }),
        ("pass@256", "Final Pass@256", { $0.passAtK[PassAtK.ks.count - 1] }),
    ]

    public var runs: [Run]
    public init(runs: [Run]) { self.runs = runs }

    public static func load(runs paths: [String]) throws -> MechanismReport {
        var runs: [Run] = []
        for path in paths {
            let layout = RunLayout(root: path)
            let config = try layout.loadConfig()
            let lines = try MetricsLine.load(layout.metrics).filter { $0.split == "test" }
            guard let final = lines.max(by: { $0.step < $1.step }) else {
                throw ValenceError.badData(path: layout.metrics, line: nil, detail: "has no test evaluation yet")
            }
            guard final.step >= config.steps else {
                throw ValenceError.badData(path: layout.metrics, line: nil, detail: "run is at step \(final.step) of \(config.steps); finish it first")
            }
            runs.append(Run(path: path, config: config, final: final))
        }
        return MechanismReport(runs: runs)
    }

    public var regimes: [Regime] { Array(Set(runs.map(\.regime))).sorted() }
    public func settings(_ regime: Regime) -> [Setting] { Array(Set(runs.filter { $0.regime == regime }.map(\.setting))).sorted() }
    public func objectives(_ regime: Regime) -> [String] {
        var out: [String] = []
        for r in runs where r.regime == regime && !out.contains(r.config.objective.rawValue) { out.append(r.config.objective.rawValue) }
        return out
    }
    public var seeds: [Int] { Array(Set(runs.map(\.seed))).sorted() }

    func cell(_ regime: Regime, _ setting: Setting, _ objective: String) -> [Run] {
        runs.filter { $0.regime == regime && $0.setting == setting && $0.config.objective.rawValue == objective }
    }

    public func estimate(_ regime: Regime, _ setting: Setting, _ objective: String, metric: Int) -> AblationReport.Estimate? {
        let values = cell(regime, setting, objective).map { Self.metrics[metric].value($0.final) }
        return values.isEmpty ? nil : AblationReport.Estimate(values)
    }

    /// NSR - PSR per seed both have, as one estimate (paired).
    public func gap(_ regime: Regime, _ setting: Setting, metric: Int) -> AblationReport.Estimate? {
        let psr = Dictionary(cell(regime, setting, "psr").map { ($0.seed, Self.metrics[metric].value($0.final)) }, uniquingKeysWith: { a, _ in a })
        let differences = cell(regime, setting, "nsr").compactMap { r in psr[r.seed].map { Self.metrics[metric].value(r.final) - $0 } }
        return differences.isEmpty ? nil : AblationReport.Estimate(differences)
    }

    public enum Verdict: Sendable, Equatable { case resolved, unresolved, vanishes, unknown }

    public static func verdict(_ e: AblationReport.Estimate) -> Verdict {
        if abs(e.mean) < 1e-9 && (e.standardError ?? 0) < 1e-9 { return .vanishes }
        guard let se = e.standardError else { return .unknown }
        return abs(e.mean) > 2 * se ? .resolved : .unresolved
    }

    // MARK: Files

    /// x position of a setting: log2 G, expected one step right of the largest G.
    func xPosition(_ s: Setting, in settings: [Setting]) -> Double {
        switch s {
        case .sampled(let g): return log2Int(g)
        case .expected:
            let largest = settings.compactMap { if case .sampled(let g) = $0 { return log2Int(g) } else { return nil } }.max() ?? 0
            return largest + 1
        }
    }

    /// One row of panels (entropy, Pass@1, Pass@256 against G) per regime, with SE bars.
    public func figure(_ regime: Regime) -> String {
        let settings = settings(regime)
        let ticks = settings.map { s -> (Double, String) in
            switch s {
            case .sampled(let g): (xPosition(s, in: settings), String(g))
            case .expected: (xPosition(s, in: settings), "exp")
            }
        }
        let panels = Self.metrics.indices.map { m in
            PointFigure.Panel(title: Self.metrics[m].title, xLabel: "group size G (log2 scale; exp = expected)", yLabel: Self.metrics[m].key,
                              xTicks: ticks, series: objectives(regime).map { o in
                PointFigure.Series(name: o, points: settings.compactMap { s in
                    estimate(regime, s, o, metric: m).map { .init(x: xPosition(s, in: settings), y: $0.mean, error: $0.standardError) }
                }, connected: true)
            })
        }
        return PointFigure(title: "Final metrics against group size, \(regime.label)",
                           subtitle: "mean ± standard error over seeds (\(seeds.map(String.init).joined(separator: ", "))); the right edge is expected-gradient mode",
                           rows: [panels], legend: objectives(regime)).svg
    }

    public static func figureFile(_ regime: Regime) -> String { "mechanism-\(regime.slug).svg" }

    public var csv: String {
        var out = "window,optimizer,setting,objective,seeds," + Self.metrics.map { "\($0.key)_mean,\($0.key)_se" }.joined(separator: ",") + "\n"
        for regime in regimes {
            for s in settings(regime) {
                for o in objectives(regime) {
                    let e = Self.metrics.indices.map { estimate(regime, s, o, metric: $0) }
                    guard let n = e.first??.n else { continue }
                    out += "\(regime.window),\(regime.optimizer.rawValue),\(s.label),\(o),\(n),"
                    out += e.map { "\(formatNumber($0?.mean ?? .nan, decimals: 6)),\($0?.standardError.map { formatNumber($0, decimals: 6) } ?? "")" }.joined(separator: ",")
                    out += "\n"
                }
            }
        }
        return out
    }

    public func write(to out: String) throws {
        try FileSystem.makeDirectories(out)
        for regime in regimes { try FileSystem.writeAtomically("\(out)/\(Self.figureFile(regime))", text: figure(regime)) }
        try FileSystem.writeAtomically("\(out)/mechanism.csv", text: csv)
        try FileSystem.writeAtomically("\(out)/report.md", text: markdown)
    }
}
