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

    @Flag(name: .long, help: ArgumentHelp(
        "Create the run first, or check that it has these settings, as valence-init does (`make run`: one process).",
        discussion: "A refused setting leaves nothing behind, not even the directory this call created."))
    var create = false

    @OptionGroup var output: OutputOptions

    /// With --create: the run's settings (valence-init's: --name value).
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("With --create: settings, as valence-init takes them.", valueName: "settings"),
              completion: RunConfig.settingsCompletion)
    var settings: [String] = []

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if !settings.isEmpty && !create { throw ValidationError("settings (\(settings.joined(separator: " "))) need --create") }
    }

    func run() throws {
        let config = create ? try RunConfig.parsingSettings(settings) : nil  // a refused setting is a usage error (64)
        try runStage("valence-step") { try advance(creating: config) }
    }

    /// Stage lines go to stderr: eval's only unless --verbose, none with --quiet.
    func stageLog(verbose: Bool) -> (@Sendable (String) -> Void)? {
        if output.quiet { return nil }
        return { @Sendable (text: String) -> Void in
            if verbose || text.hasPrefix("eval: ") { Console.error(text) }
        }
    }

    func advance(creating config: RunConfig?) throws {
            // Whole steps in one process: one syncfs per step instead of an fsync per file.
            Durability.current = .stepBarrier
            MemoryTuning.keepFreedMemory()
            let log = stageLog(verbose: verbose)
            let layout = RunLayout(root: runPath)
            let created = config != nil && !FileSystem.exists(runPath)
            if config != nil { try FileSystem.makeDirectories(runPath) }
            guard let lock = try FileLock.acquireIfFree(layout.lock) else {
                let message = "valence-step: \(runPath) is busy (another step holds \(layout.lock)); nothing to do"
                if all { throw ValenceError.busy(detail: message) }
                Console.output(message)
                return
            }
            defer { lock.release() }
            if let config {
                do {
                    try InitStage.run(root: runPath, config: config, log: nil)
                } catch {
                    // Safe while the lock is held: every other caller gives up on it at once.
                    if created, (try? FileSystem.list(runPath, includeHidden: true)) == [".lock"] {
                        FileSystem.removeTree(runPath)
                    }
                    throw error
                }
            }
            let env = try StageEnvironment(run: runPath, log: log)
            let driver = RunDriver(env: env, jobs: jobs)
            let outcome = try driver.advance(allSteps: all)
            let run = env.config
            let what = "(\(run.objective.rawValue), window \(run.window), seed \(run.seed))"
            switch outcome {
            case .complete where !all:
                Console.output("valence-step: \(runPath) has reached its last step; nothing to do")
            case .complete, .stepped:
                if all { Console.output("\(runPath): complete: \(run.steps) of \(run.steps) steps \(what)") }
            }
    }
}
