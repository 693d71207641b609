#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Progress of long work on standard error: "compare: 5/18 runs, 301/1098 steps, 42 steps/s, ETA 19 s".
///
/// On a terminal the line is rewritten in place (at most ten times a second); otherwise (cron mail,
/// CI logs, a file) a plain line is printed every `interval` seconds and once at the end, so a log
/// stays short. Safe to call from several threads.
public final class ProgressLine: @unchecked Sendable {
    let label: String
    let quiet: Bool
    let live: Bool
    let interval: Double
    private let lock = DispatchSemaphore(value: 1)
    private var runs = 0, runsDone = 0, steps = 0, stepsDone = 0
    private var start = DispatchTime.now()
    private var lastPrint = 0.0
    private var lineShown = false

    /// `live`: rewrite one line in place (default: when standard error is a terminal).
    public init(label: String, quiet: Bool = false, live: Bool = isatty(2) != 0, interval: Double = 10) {
        self.label = label
        self.quiet = quiet
        self.live = live
        self.interval = interval
    }

    public func begin(runs: Int, steps: Int) {
        locked {
            (self.runs, self.steps, runsDone, stepsDone) = (runs, steps, 0, 0)
            start = DispatchTime.now()
        }
    }

    /// One step finished.
    public func step() { locked { stepsDone += 1; show(force: false) } }

    /// One run finished.
    public func finished(run: String) { locked { runsDone += 1; show(force: false) } }

    /// A run failed: its error on a line of its own, whatever the mode.
    public func failed(run: String, error: Error) {
        locked {
            runsDone += 1
            clearLive()
            Console.error("\(label): \(run) failed: \(error)")
            show(force: true)
        }
    }

    /// The final line (the live line is ended with a newline).
    public func end() {
        locked {
            guard !quiet else { return }
            if live { clearLive() }
            Console.error(Self.format(label: label, runsDone: runsDone, runs: runs, stepsDone: stepsDone, steps: steps, seconds: elapsed))
        }
    }

    /// The progress text: runs and steps done of all, the step rate and the time left at that rate.
    public static func format(label: String, runsDone: Int, runs: Int, stepsDone: Int, steps: Int, seconds: Double) -> String {
        var text = "\(label): \(runsDone)/\(runs) runs, \(stepsDone)/\(steps) steps"
        guard seconds > 0, stepsDone > 0 else { return text }
        let rate = Double(stepsDone) / seconds
        text += ", \(formatNumber(rate, decimals: rate < 10 ? 1 : 0)) steps/s"
        let left = Double(max(0, steps - stepsDone)) / rate
        text += stepsDone < steps ? ", ETA \(duration(left))" : ", \(duration(seconds))"
        return text
    }

    /// "42 s", "3 min 5 s", "1 h 2 min".
    public static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \(s % 3600 / 60) min"
    }

    private var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }

    private func show(force: Bool) {
        guard !quiet else { return }
        let now = elapsed
        guard force || now - lastPrint >= (live ? 0.1 : interval) else { return }
        lastPrint = now
        let text = Self.format(label: label, runsDone: runsDone, runs: runs, stepsDone: stepsDone, steps: steps, seconds: now)
        if live {
            Console.errorInPlace(text)
            lineShown = true
        } else {
            Console.error(text)
        }
    }

    private func clearLive() {
        if live && lineShown { Console.errorInPlace(""); lineShown = false }
    }

    private func locked(_ body: () -> Void) {
        lock.wait()
        body()
        lock.signal()
    }
}
