import Dispatch
import Foundation
import Valence

/// Runs a grid's runs `jobs` at a time: valence-init in a child process (so the options are parsed
/// by the one program that owns them), then every step in this process (``RunDriver``), holding
/// each run's lock. Then the sampled Pass@k evals and the report.
struct Sweep {
    let grid: Grid
    let root: String
    let extra: [String]
    let jobs: Int
    let samples: Int
    let quiet: Bool

    /// The valence-* binaries beside this one (the build directory or an installed prefix).
    static var binDirectory: String {
        if let bin = ProcessInfo.processInfo.environment["VALENCE_BIN"], !bin.isEmpty { return bin }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (me as NSString).deletingLastPathComponent
    }

    func run() throws {
        let runs = grid.runs
        let start = DispatchTime.now()
        let paths = runs.map { "\(root)/\($0.path)" }
        // Steps still to take, known before anything runs, for the rate and the ETA.
        let extra = extra
        let remaining = zip(runs, paths).map { run, path in Self.remainingSteps(run: path, options: run.options + extra) }
        let progress = SweepProgress(name: grid.name, runs: runs.count, steps: remaining.reduce(0, +), quiet: quiet)
        if !quiet {
            Console.error("\(grid.name): \(runs.count) runs (\(remaining.reduce(0, +)) steps to take), \(min(jobs, runs.count)) at a time, under \(root)")
        }
        let errors = ErrorBox(count: runs.count)
        let bin = Self.binDirectory
        DispatchQueue.concurrentPerform(iterations: min(jobs, runs.count)) { worker in
            var i = worker
            while i < runs.count {
                do {
                    try Self.advance(run: paths[i], options: runs[i].options + extra, bin: bin) { progress.step() }
                    progress.finished(run: runs[i].path)
                } catch {
                    errors.set(i, error)
                    progress.failed(run: runs[i].path, error: error)
                }
                i += min(jobs, runs.count)
            }
        }
        progress.finish()
        // A failed syncfs may have lost any run's writes on the file system: none of the runs
        // trusts its steps any more (docs/reliability.md, "Power cuts").
        if SyncFailures.process.hasFailed {
            for path in paths { DurabilityRecord.distrust(RunLayout(root: path)) }
        }
        if let (index, error) = errors.firstIndexed {
            let n = errors.count
            Console.error("\(grid.name): \(n) of \(runs.count) runs failed; first: \(paths[index])")
            throw error
        }
        if samples > 0 { try sampledPassAtK(paths) }
        // TensorBoard event files in each run's tb/: `tensorboard --logdir ROOT` shows every run.
        for path in paths { _ = try TensorBoardExport.write(run: path) }
        var wrote = ""
        if let write = GridReport.writer(grid.report) {
            wrote = try write(paths, root)
            if grid.report == "compare" { renderPNGs() }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        if !quiet {
            Console.error("\(grid.name): finished \(runs.count) runs in \(formatNumber(seconds, decimals: 1)) s" + (wrote.isEmpty ? "" : ": \(wrote)"))
        }
    }

    /// Creates (or re-initialises) one run and advances it to its last step under its lock.
    static func advance(run path: String, options: [String], bin: String, step: @escaping () -> Void) throws {
        try FileSystem.makeDirectories(path)
        guard let lock = try FileLock.acquireIfFree("\(path)/.lock") else {
            throw ValenceError.busy(detail: "\(path) is busy (another process holds \(path)/.lock)")
        }
        defer { lock.release() }
        try initialise(run: path, options: options, bin: bin)
        let driver = RunDriver(env: try StageEnvironment(run: path))
        try driver.advance(allSteps: true) { _ in step() }
    }

    /// valence-init in a child process; its one-line error and exit code become this run's error.
    static func initialise(run path: String, options: [String], bin: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(bin)/valence-init")
        process.arguments = ["--run", path, "--quiet"] + options
        let err = Pipe()
        process.standardError = err
        do { try process.run() } catch {
            throw ValenceError.missingInput(path: "\(bin)/valence-init", detail: "cannot start: \(error.localizedDescription) (run: make build)")
        }
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw InitFailure(status: process.terminationStatus, message: message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Steps (evals included) a run still has to take: all of them for a new run.
    static func remainingSteps(run path: String, options: [String]) -> Int {
        var steps = RunConfig().steps
        if let i = options.lastIndex(of: "--steps"), i + 1 < options.count, let n = Int(options[i + 1]) { steps = n }
        guard let env = try? StageEnvironment(run: path) else { return steps + 1 }
        let next = RunDriver(env: env).nextStep() ?? (env.config.steps + 1)
        return max(0, steps + 1 - next)
    }

    /// The sampled Pass@k of every run's base and final policy, `jobs` runs at once.
    func sampledPassAtK(_ paths: [String]) throws {
        if !quiet { Console.error("\(grid.name): sampled Pass@k of the base and final policies (\(samples) rollouts per test prompt)") }
        let errors = ErrorBox(count: paths.count)
        let samples = samples
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            do {
                let env = try StageEnvironment(run: paths[i])
                for step in [0, env.config.steps] { try EvalStage.run(env, step: step, samples: samples) }
            } catch { errors.set(i, error) }
        }
        if let error = errors.first { throw error }
    }

    /// PNG copies of the figures when rsvg-convert is installed (`make plot-deps`).
    func renderPNGs() {
        let tool = ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let tool else {
            if !quiet { Console.error("\(grid.name): rsvg-convert not found: wrote SVG figures only (make plot-deps installs librsvg2-bin for PNGs)") }
            return
        }
        for figure in ["passk", "training", "diagnostics"] where FileManager.default.fileExists(atPath: "\(root)/\(figure).svg") {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = ["--format", "png", "--zoom", "1.5", "--background-color", "white", "-o", "\(root)/\(figure).png", "\(root)/\(figure).svg"]
            try? p.run()
            p.waitUntilExit()
            if p.terminationStatus != 0 { Console.error("\(grid.name): rsvg-convert could not render \(root)/\(figure).svg (the SVG is still there)") }
        }
    }
}

/// The sweep's progress line ("compare: 5/18 runs, 301/1098 steps (27%), 12 steps/s, ETA 0:39"),
/// shared by the worker threads.
final class SweepProgress: @unchecked Sendable {
    let name: String
    let runs: Int
    private var runsDone = 0
    private let line: ProgressLine
    private let lock = NSLock()

    init(name: String, runs: Int, steps: Int, quiet: Bool) {
        self.name = name
        self.runs = runs
        line = ProgressLine("\(name): 0/\(runs) runs,", total: steps, unit: "steps", style: .automatic(quiet: quiet))
        line.checkEvery = 1
    }

    func step() { lock.withLock { line.advance() } }

    func finished(run: String) {
        lock.withLock {
            runsDone += 1
            line.label = "\(name): \(runsDone)/\(runs) runs,"
        }
    }

    /// A failed run's error on a line of its own.
    func failed(run: String, error: Error) {
        lock.withLock {
            runsDone += 1
            line.label = "\(name): \(runsDone)/\(runs) runs,"
            if line.style == .terminal { ProgressLine.standardError("\r\u{1B}[K") }
            Console.error("\(name): \(run) failed: \(error)")
        }
    }

    func finish() { lock.withLock { line.finish() } }
}

/// valence-init refused a run's options: its own message, its own exit code.
struct InitFailure: Error, CustomStringConvertible {
    let status: Int32
    let message: String
    var description: String { message }
}
