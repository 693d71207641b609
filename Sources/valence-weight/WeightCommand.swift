import ArgumentParser
import Valence
import ValenceCLI

@main
struct WeightCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-weight",
        abstract: "Attach the run objective's advantage to each rollout, reading only what the objective needs.",
        discussion: "Reads and writes zstd-compressed JSONL shards under RUN/steps/NNNNNN/ (see docs/stages.md). Output is written under a temporary name and renamed when complete; a shard whose manifest already matches its inputs is left alone."
    )

    @OptionGroup var step: StepOptions
    @OptionGroup var shards: ShardOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try runShardedStage("valence-weight", step: step, shards: shards, output: output) { env, step, shard in
            try WeightStage.run(env, step: step, shard: shard)
        }
    }
}
