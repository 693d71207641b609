import ArgumentParser
import Valence
import ValenceCLI

@main
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-status",
        abstract: "Say where a run is: the last evaluated step and what comes next.",
        discussion: "With --next, prints only the next step to run (0 when the base policy is not yet evaluated) or 'done', for scripts. Otherwise, for a run driven by valence-step, a second line says which steps are synced and which the next call syncs or verifies (docs/reliability.md, \"Power cuts\")."
    )

    @Option(name: .customLong("run"), help: ArgumentHelp("The run directory.", valueName: "dir"))
    var runPath: String

    @Flag(name: .long, help: "Print only the next step number, or 'done'.")
    var next = false

    /// Where the steps through `last` stand against a power cut (docs/reliability.md, "Power cuts"),
    /// for a run driven in-process; nil for one that has no record (the stage executables fsync
    /// every file).
    static func onDisk(_ record: DurabilityRecord?, through last: Int) -> String? {
        guard let record else { return nil }
        let synced = min(record.synced ?? -1, last)
        if synced >= last { return "synced through step \(last)" }
        let start = synced >= 0 ? "synced through step \(synced); " : ""
        let after = (synced + 1)...last
        let steps = after.count == 1 ? "step \(last)" : "steps \(after.lowerBound)-\(last)"
        if record.unverified(through: last, boot: BootIdentity.current) == nil {
            return start + "\(steps) written in this boot, synced by the next call"
        }
        return start + "\(steps) not known to be synced (written before the last reboot, or a sync failed): the next call verifies them"
    }

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
            if !next, let last, let disk = Self.onDisk(DurabilityRecord.readIfPresent(layout), through: last) {
                Console.output("\(runPath): \(disk)")
            }
        }
    }
}
