import ArgumentParser
import Valence

/// Options every step stage shares.
public struct StepOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The run directory (created by valence-init).", valueName: "dir"))
    public var run: String

    @Option(name: .long, help: "The training step (1-based; the checkpoint it reads is step - 1).")
    public var step: Int

    public init() {}
}

/// Options of the sharded stages (generate, verify, split, weight).
public struct ShardOptions: ParsableArguments {
    @Option(name: .long, help: "Process only this shard (0-based), e.g. one job-array task. Default: every shard.")
    public var shard: Int?

    @Option(name: .long, help: "How many shards to process at once when --shard is not given.")
    public var jobs: Int = 1

    public init() {}

    public func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let shard, shard < 0 { throw ValidationError("--shard must be >= 0") }
    }
}

public struct OutputOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    public var quiet = false

    public init() {}

    public var log: (@Sendable (String) -> Void)? {
        if quiet { return nil }
        return { @Sendable text in Console.error(text) }
    }
}

/// Runs a stage body, turning a ``ValenceError`` into a one-line message and its documented exit
/// code instead of a stack trace.
public func runStage(_ program: String, _ body: () throws -> Void) throws {
    Console.ignoreBrokenPipe()
    do {
        try body()
    } catch let error as ValenceError {
        Console.error("\(program): error: \(error)")
        throw ExitCode(error.exitCode)
    }
}

/// Runs a sharded stage over the selected shards.
public func runShardedStage(
    _ program: String, step: StepOptions, shards: ShardOptions, output: OutputOptions,
    _ body: @escaping @Sendable (StageEnvironment, Int, Int) throws -> Void
) throws {
    try runStage(program) {
        let env = try StageEnvironment(run: step.run, log: output.log)
        let list = try env.shardList(shards.shard)
        let stepNumber = step.step
        try env.forEachShard(list, jobs: shards.jobs) { shard in
            try body(env, stepNumber, shard)
        }
    }
}
