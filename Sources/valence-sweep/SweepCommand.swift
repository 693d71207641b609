import ArgumentParser
import Dispatch
import Foundation
import Valence
import ValenceCLI

@main
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-sweep",
        abstract: "Run a grid of runs declared in a file, N at a time, with progress and resume; then write the grid's report.",
        discussion: """
            GRID is a JSON file (data/grids/*.json; format in docs/sweep.md): fixed valence-init options, axes \
            whose values expand to their product, and optional cases. Each run is created with valence-init and \
            advanced in this process to its last step, exactly as `make run` would (same files, byte for byte); a \
            run already complete is left as it is, one interrupted is resumed. Then, when the grid asks for it, \
            the sampled Pass@k of each run's base and final policy, and the grid's report. Progress goes to \
            stderr: a live line on a terminal, a plain line every 10 s otherwise. Exit status: 0, or the first \
            failing run's (docs/reliability.md); the report is written only when every run succeeded.
            """
    )

    @Argument(help: ArgumentHelp("The grid file.", valueName: "grid"))
    var grid: String

    @Option(name: .long, help: ArgumentHelp("Directory the runs and the report go under (default: the grid's \"out\").", valueName: "dir"))
    var out: String?

    @Option(name: .long, help: "Runs at once (default: the usable CPUs).")
    var jobs: Int?

    @Option(name: .customLong("set"), help: ArgumentHelp("Set an option for every run: KEY=VALUE (repeatable).", valueName: "key=value"))
    var sets: [String] = []

    @Option(name: .customLong("axis"), help: ArgumentHelp("Replace or add an axis: KEY=V1,V2 or 'KEY=V1 V2' (repeatable).", valueName: "key=values"))
    var axes: [String] = []

    @Option(name: .long, help: "Rollouts per test prompt for the sampled Pass@k of base and final policies (default: the grid's; 0 = none).")
    var samples: Int?

    @Flag(name: .long, help: "List the runs and their options, run nothing.")
    var dryRun = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("valence-init options added to every run (after --).", valueName: "init-option"))
    var extra: [String] = []

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let samples, samples < 0 { throw ValidationError("--samples must be >= 0") }
    }

    func run() throws {
        try runStage("valence-sweep") {
            var g = try Grid.load(grid)
            for item in sets {
                let (key, value) = try Self.keyValue(item, "--set")
                g.set(key, Grid.value(value))
            }
            for item in axes {
                let (key, value) = try Self.keyValue(item, "--axis")
                let values = value.split(whereSeparator: { $0 == "," || $0 == " " }).map { Grid.value(String($0)) }
                guard !values.isEmpty else { throw ValenceError.config(detail: "--axis \(item): no values") }
                g.setAxis(key, values)
            }
            try g.checkPaths(grid)
            guard g.report == "none" || GridReport.writer(g.report) != nil else {
                throw ValenceError.config(detail: "\(grid): unknown report \"\(g.report)\" (known: \(GridReport.names.joined(separator: ", ")), none)")
            }
            let root = out ?? g.out
            if dryRun {
                for r in g.runs { Console.output("\(root)/\(r.path)  \((r.options + extra).joined(separator: " "))") }
                return
            }
            // Whole steps in one process: one syncfs per step instead of an fsync per file.
            Durability.current = .stepBarrier
            MemoryTuning.keepFreedMemory()
            let sweep = Sweep(grid: g, root: root, extra: extra, jobs: jobs ?? Processors.usable,
                              samples: samples ?? g.samples, quiet: output.quiet)
            do {
                try sweep.run()
            } catch let failure as InitFailure {
                // valence-init said why (one line) and chose the exit code.
                Console.error(failure.message)
                throw ExitCode(failure.status)
            }
        }
    }

    static func keyValue(_ item: String, _ option: String) throws -> (String, String) {
        guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
            throw ValenceError.config(detail: "\(option) \(item): expected KEY=VALUE")
        }
        return (String(item[..<eq]), String(item[item.index(after: eq)...]))
    }
}
