import ArgumentParser
import Valence
import ValenceCLI

@main
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-report",
        abstract: "Compare finished runs: report.md with figures (passk.svg, training.svg, diagnostics.svg), findings and tables, plus CSVs.",
        discussion: "Each RUN is a run directory with metrics.jsonl. Runs are grouped by context window and objective; several seeds give mean and standard error. The base row is step 0. See docs/report.md."
    )

    @Option(name: .long, help: ArgumentHelp("Directory to write report.md and passk.csv into.", valueName: "dir"))
    var out: String

    @Argument(help: ArgumentHelp("Run directories to compare.", valueName: "run"))
    var runs: [String]

    @OptionGroup var output: OutputOptions

    func run() throws {
        try runStage("valence-report") {
            let report = try ComparisonReport.load(runs: runs)
            try report.write(to: out)
            output.log?("report: wrote \(out)/report.md, passk.svg, training.svg, diagnostics.svg and CSVs (\(runs.count) runs)")
        }
    }
}
