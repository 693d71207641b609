import ArgumentParser
import Valence
import ValenceCLI

@main
struct UpdateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-update",
        abstract: "Take one optimizer step on J from all of a step's weighted shards.",
        discussion: "Reads RUN/steps/N/weighted/*, the policy and optimizer state of checkpoint N-1, and writes checkpoint N (policy.jsonl.zst, optimizer.jsonl.zst, gradient.jsonl.zst with the step's PSR and NSR gradient parts, MANIFEST.json)."
    )

    @OptionGroup var step: StepOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try runStage("valence-update") {
            try UpdateStage.run(try StageEnvironment(run: step.run, log: output.log), step: step.step)
        }
    }
}
