import ArgumentParser
import Valence
import ValenceCLI

@main
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-status",
        abstract: "Say where a run is: the last evaluated step and what comes next.",
        discussion: "With --next, prints only the next step to run (0 when the base policy is not yet evaluated) or 'done', for scripts."
    )

    @Option(name: .customLong("run"), help: ArgumentHelp("The run directory.", valueName: "dir"))
    var runPath: String

    @Flag(name: .long, help: "Print only the next step number, or 'done'.")
    var next = false

    func run() throws {
        try runStage("valence-status") {
            let layout = RunLayout(root: runPath)
            let config = try layout.loadConfig()
            let last = layout.lastEvaluatedStep()
            let nextStep = last.map { $0 + 1 } ?? 0
            let done = nextStep > config.steps
            if next {
                Console.output(done ? "done" : String(nextStep))
            } else if done {
                Console.output("\(runPath): complete: \(config.steps) of \(config.steps) steps (\(config.objective.rawValue), window \(config.window), seed \(config.seed))")
            } else {
                Console.output("\(runPath): \(last.map { "evaluated through step \($0)" } ?? "not yet evaluated"); next step \(nextStep) of \(config.steps) (\(config.objective.rawValue), window \(config.window), seed \(config.seed))")
            }
        }
    }
}
