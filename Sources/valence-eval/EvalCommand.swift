import ArgumentParser
import Valence
import ValenceCLI

@main
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-eval",
        abstract: "Compute exact Pass@k (k = 1..256), greedy accuracy and entropy of a checkpoint.",
        discussion: "Step 0 evaluates the base policy. Writes RUN/steps/N/eval/ and rebuilds RUN/metrics.jsonl (one line per evaluated step and split)."
    )

    @Option(name: .customLong("run"), help: ArgumentHelp("The run directory.", valueName: "dir"))
    var runPath: String

    @Option(name: .long, help: "The checkpoint to evaluate (0 = base policy).")
    var step: Int

    @OptionGroup var output: OutputOptions

    func run() throws {
        try runStage("valence-eval") {
            try EvalStage.run(try StageEnvironment(run: runPath, log: output.log), step: step)
        }
    }
}
