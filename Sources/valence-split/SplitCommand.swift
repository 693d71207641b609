import ArgumentParser
import Valence
import ValenceCLI

@main
struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-split",
        abstract: "Split verified rollouts into positive (PSR) and negative (NSR) shards plus per-prompt group counts.",
        discussion: "Reads and writes zstd-compressed JSONL shards under RUN/steps/NNNNNN/ (see docs/stages.md). Output is written under a temporary name and renamed when complete; a shard whose manifest already matches its inputs is left alone."
    )

    @OptionGroup var step: StepOptions
    @OptionGroup var shards: ShardOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try runShardedStage("valence-split", step: step, shards: shards, output: output) { env, step, shard in
            try SplitStage.run(env, step: step, shard: shard)
        }
    }
}
