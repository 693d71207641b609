import ArgumentParser
import Valence
import ValenceCLI

@main
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-verify",
        abstract: "Judge each rollout against the task's reference answer (correct / wrong / malformed).",
        discussion: "Reads and writes zstd-compressed JSONL shards under RUN/steps/NNNNNN/ (see docs/stages.md). Output is written under a temporary name and renamed when complete; a shard whose manifest already matches its inputs is left alone."
    )

    @OptionGroup var step: StepOptions
    @OptionGroup var shards: ShardOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try runShardedStage("valence-verify", step: step, shards: shards, output: output) { env, step, shard in
            try VerifyStage.run(env, step: step, shard: shard)
        }
    }
}
