import ArgumentParser
import Valence
import ValenceCLI

@main
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-init",
        abstract: "Create a run directory: its config, the task's train/test prompt shards and the base policy.",
        discussion: """
            Defaults follow docs/model.md. Rerunning with the same settings is a no-op (steps and shards \
            may change: they are not part of the run's identity); different settings for an \
            existing run are refused.

            Settings (each declared once in the run config's field list; `make` sets them from the \
            variables shown):
            \(RunConfig.argumentHelp)
            """
    )

    @Option(name: .customLong("run"), help: ArgumentHelp("The run directory to create.", valueName: "dir"))
    var runPath: String?

    @Flag(name: .customLong("list-objectives"), help: "Print the objective registry (name, advantage correct / wrong, loss, summary) and exit.")
    var listObjectives = false

    @Flag(name: .customLong("list-losses"), help: "Print the loss rules and options (name, config fields, help) and exit.")
    var listLosses = false

    @Flag(name: .customLong("make-variables"), help: "Print the Makefile variables of every setting (pipelines/config.mk) and exit.")
    var makeVariables = false

    @OptionGroup var output: OutputOptions

    /// The settings, parsed from the field declarations (``RunConfig/parse(arguments:)``); shell
    /// completion offers every setting's flag.
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Settings: --name value (listed below).", valueName: "settings"),
              completion: RunConfig.settingsCompletion)
    var settings: [String] = []

    func run() throws {
        if listObjectives { print(Objective.listing); return }
        if listLosses { print(Objective.lossListing); return }
        if makeVariables { print(RunConfig.makeVariables, terminator: ""); return }
        guard let runPath else { throw ValidationError("missing --run <dir>") }
        let config = try RunConfig.parsingSettings(settings)
        try runStage("valence-init") {
            try InitStage.run(root: runPath, config: config, log: output.log)
        }
    }
}
