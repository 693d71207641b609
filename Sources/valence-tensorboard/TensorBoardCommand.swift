import ArgumentParser
import Valence
import ValenceCLI

@main
struct TensorBoardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-tensorboard",
        abstract: "Write each run's metrics.jsonl as a TensorBoard event file (RUN/tb/events.out.tfevents.0000000000.valence).",
        discussion: """
            One scalar per metric and step, tags grouped as pass@k/1 ... pass@k/256, entropy, grad_norm/psr, \
            batch/correct, redist/... The file depends only on metrics.jsonl (wall time = step seconds), so a \
            rerun is byte-identical. It is written under a temporary name and renamed, or, when the run has \
            gone on since the last conversion, extended in place so that a running TensorBoard shows the new \
            steps. Then: tensorboard --logdir DIR. See docs/tensorboard.md.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Convert every run found below this directory (e.g. runs/compare).", valueName: "dir"))
    var under: String?

    @Argument(help: ArgumentHelp("Run directories to convert.", valueName: "run"))
    var runs: [String] = []

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if runs.isEmpty && under == nil { throw ValidationError("give run directories or --under DIR") }
    }

    func run() throws {
        try runStage("valence-tensorboard") {
            var list = runs
            if let under {
                let found = try TensorBoardExport.findRuns(under: under)
                if found.isEmpty { throw ValenceError.missingInput(path: under, detail: "no run directory (with metrics.jsonl) below it") }
                list += found
            }
            for run in list {
                let summary = try TensorBoardExport.write(run: run)
                output.log?("tensorboard: wrote \(summary.path) (\(summary.events - 1) events, \(summary.scalars) scalars)")
            }
        }
    }
}
