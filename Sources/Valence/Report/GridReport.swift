/// The reports a grid of runs can end with, by the name a grid file gives in `"report"`: the one
/// list `valence-sweep` and `valence-report` consult. Each entry writes its files into a directory
/// from a list of run directories and returns what it wrote, for the closing line.
public enum GridReport {
    public typealias Writer = @Sendable (_ runs: [String], _ out: String) throws -> String

    public static let all: [(name: String, write: Writer)] = [
        ("compare", { runs, out in
            try ComparisonReport.load(runs: runs).write(to: out)
            return "\(out)/report.md, passk.svg, training.svg, diagnostics.svg, passk.csv"
        }),
        ("ablation", { runs, out in
            try AblationReport.load(runs: runs).write(to: out)
            return "\(out)/report.md, ablation.csv"
        }),
        ("mechanism", { runs, out in
            let report = try MechanismReport.load(runs: runs)
            try report.write(to: out)
            return "\(out)/report.md, " + report.regimes.map { MechanismReport.figureFile($0) }.joined(separator: ", ") + ", mechanism.csv"
        }),
        ("paper", { runs, out in
            // The paper's own end points, when the data directory is at hand (run from the repository).
            let reference = FileSystem.exists(PaperReport.referencePath) ? PaperReport.referencePath : nil
            try PaperReport.load(runs: runs, reference: reference).write(to: out)
            return "\(out)/report.md"
        }),
    ]

    public static var names: [String] { all.map(\.name) }

    public static func writer(_ name: String) -> Writer? { all.first { $0.name == name }?.write }
}
