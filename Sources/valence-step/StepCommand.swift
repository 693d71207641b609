import ArgumentParser
import Valence
import ValenceCLI

@main
struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-step",
        abstract: "Advance a run by one step (or to its last step) in one process: generate, verify, split, weight, update, eval.",
        discussion: """
            Writes exactly the files the separate stage executables write, byte for byte, and behaves as they do: \
            a part whose manifest matches its inputs is skipped, a step a crash interrupted is resumed, bad input \
            stops with a one-line error and its exit code (docs/reliability.md). It holds RUN/.lock while it works: \
            a second call for the same run says the run is busy and exits 0 (75 with --all), so cron may call it \
            as often as it likes. The first call also evaluates the base policy (step 0). `make step` and `make run` \
            use it.
            """
    )

    @Option(name: .customLong("run"), help: ArgumentHelp("The run directory (created by valence-init).", valueName: "dir"))
    var runPath: String

    @Flag(name: .long, help: "Run every remaining step, not just the next one.")
    var all = false

    @Option(name: .long, help: "How many shards of a sharded stage to process at once.")
    var jobs: Int = 1

    @Flag(name: .long, help: "Print every stage's line, not just eval's.")
    var verbose = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        try runStage("valence-step") { try advance() }
    }

    /// Stage lines go to stderr: eval's only unless --verbose, none with --quiet.
    func stageLog(verbose: Bool) -> (@Sendable (String) -> Void)? {
        if output.quiet { return nil }
        return { @Sendable (text: String) -> Void in
            if verbose || text.hasPrefix("eval: ") { Console.error(text) }
        }
    }

    func advance() throws {
            // Whole steps in one process: one syncfs per step instead of an fsync per file.
            Durability.current = .stepBarrier
            MemoryTuning.keepFreedMemory()
            let log = stageLog(verbose: verbose)
            let env = try StageEnvironment(run: runPath, log: log)
            let driver = RunDriver(env: env, jobs: jobs)
            guard let lock = try driver.lockRun() else {
                let message = "valence-step: \(runPath) is busy (another step holds \(env.layout.lock)); nothing to do"
                if all { throw ValenceError.busy(detail: message) }
                Console.output(message)
                return
            }
            defer { lock.release() }
            let outcome = try driver.advance(allSteps: all)
            let config = env.config
            let what = "(\(config.objective.rawValue), window \(config.window), seed \(config.seed))"
            switch outcome {
            case .complete where !all:
                Console.output("valence-step: \(runPath) has reached its last step; nothing to do")
            case .complete, .stepped:
                if all { Console.output("\(runPath): complete: \(config.steps) of \(config.steps) steps \(what)") }
            }
    }
}
