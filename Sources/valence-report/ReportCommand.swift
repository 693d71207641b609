import ArgumentParser
import Valence
import ValenceCLI

@main
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-report",
        abstract: "Compare finished runs: report.md with figures (passk.svg, training.svg, diagnostics.svg), findings and tables, plus CSVs.",
        discussion: """
            Each RUN is a run directory with metrics.jsonl. Runs are grouped by context window and objective; several \
            seeds give mean and standard error. The base row is step 0. See docs/report.md. With --ablation, runs are \
            grouped into cells by optimizer, minibatches and PPO clip instead, averaged over seeds (report.md with \
            PSR-vs-NSR sentences, ablation.csv).
            """
    )

    @Option(name: .long, help: ArgumentHelp("Directory to write report.md and passk.csv into.", valueName: "dir"))
    var out: String

    @Flag(help: "Write the ablation report (cells of optimizer x minibatches x clip, mean ± SE over seeds).")
    var ablation = false

    @Flag(help: "Write the mechanism report (NSR - PSR against group size and expected mode; docs/mechanism.md).")
    var mechanism = false

    @Flag(help: "Write the paper report: docs/model.md 10's Table 1 (exact Pass@k at T = 1 and 0.6, mean ± SE over seeds), the paper's end points and claims.")
    var paper = false

    @Option(name: .customLong("paper-table"), help: ArgumentHelp("The paper's reference numbers (with --paper).", valueName: "json"))
    var paperTable = "data/paper/table1.json"

    @Argument(help: ArgumentHelp("Run directories to compare.", valueName: "run"))
    var runs: [String]

    @OptionGroup var output: OutputOptions

    func run() throws {
        try runStage("valence-report") {
            if mechanism {
                try MechanismReport.load(runs: runs).write(to: out)
                output.log?("report: wrote \(out)/report.md, mechanism-*.svg and mechanism.csv (\(runs.count) runs)")
                return
            }
            if paper {
                try PaperReport.load(runs: runs, reference: paperTable).write(to: out)
                output.log?("report: wrote \(out)/report.md (\(runs.count) runs)")
                return
            }
            if ablation {
                try AblationReport.load(runs: runs).write(to: out)
                output.log?("report: wrote \(out)/report.md and \(out)/ablation.csv (\(runs.count) runs)")
                return
            }
            let report = try ComparisonReport.load(runs: runs)
            try report.write(to: out)
            output.log?("report: wrote \(out)/report.md, passk.svg, training.svg, diagnostics.svg, entropy.svg and CSVs (\(runs.count) runs)")
        }
    }
}
