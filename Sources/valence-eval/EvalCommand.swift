import ArgumentParser
import Valence
import ValenceCLI

@main
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-eval",
        abstract: "Compute exact Pass@k (k = 1..256), greedy accuracy and entropy of a checkpoint.",
        discussion: "Step 0 evaluates the base policy. With --samples N it also reports sampled Pass@k (sampled_pass@k, n = N) on each line. Writes RUN/steps/N/eval/ and rebuilds RUN/metrics.jsonl (one line per evaluated step and split)."
    )

    @Option(name: .customLong("run"), help: ArgumentHelp("The run directory.", valueName: "dir"))
    var runPath: String

    @Option(name: .long, help: "The checkpoint to evaluate (0 = base policy).")
    var step: Int

    @Option(name: .long, help: ArgumentHelp("Also sample N rollouts per prompt (N >= 256, the largest k) and record the unbiased Pass@k estimate next to the exact value.", valueName: "N"))
    var samples: Int = 0

    @OptionGroup var output: OutputOptions

    func run() throws {
        try runStage("valence-eval") {
            try EvalStage.run(try StageEnvironment(run: runPath, log: output.log), step: step, samples: samples)
        }
    }
}
