import ArgumentParser
import Dispatch
import Valence
import ValenceCLI

/// Temporary (until the in-process step runner and `valence-sweep` land): completes initialised
/// runs inside one process, N at a time. Used by pipelines/grid.sh for `make mechanism`.
@main
struct GridRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-grid-run",
        abstract: "Complete initialised runs in one process (every remaining step, stage by stage), N at a time.")

    @Option(help: "Runs at once.") var jobs = 2
    @Argument(help: ArgumentHelp("Run directories (made by valence-init).", valueName: "run")) var runs: [String]
    @OptionGroup var output: OutputOptions

    func run() throws {
        try runStage("valence-grid-run") {
            let total = runs.count
            let done = Counter()
            let log = output.log
            let start = DispatchTime.now().uptimeNanoseconds
            let failures = InProcessRun.completeAll(runs, jobs: jobs) { _, path, error in
                let n = done.increment()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if let error { Console.error("valence-grid-run: \(path): \(error)") }
                else if n % 10 == 0 || n == total { log?("grid: \(n)/\(total) runs done (\(Int(seconds)) s)") }
            }
            if let first = failures.first {
                throw ValenceError.badData(path: first.0, line: nil, detail: "\(failures.count) run(s) failed; first: \(first.1)")
            }
        }
    }
}

final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = DispatchSemaphore(value: 1)
    func increment() -> Int {
        lock.wait()
        defer { lock.signal() }
        value += 1
        return value
    }
}
