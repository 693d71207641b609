#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ProgressLine of long work (done / total, rate, ETA) on standard error, as people expect it:
///
/// - **terminal** (stderr is a tty): one live line, rewritten in place with `\r` at most ten times
///   a second, ended with a newline by ``finish()``;
/// - **plain lines** (stderr is a file or pipe: cron mail, CI logs, `make ... 2>log`): a full line
///   every ``interval`` seconds (10 by default), and a last line at ``finish()`` only if work took
///   that long, so short work stays silent;
/// - **silent**: nothing (for `--quiet`).
///
/// Use:
///
///     let progress = ProgressLine("eval: sampled Pass@k", total: prompts.count, unit: "prompts")
///     for prompt in prompts { ...; progress.advance() }
///     progress.finish()
///
/// or `ProgressLine(..., style: .silent)` / pass `nil` where the caller is quiet. A line reads
/// `eval: sampled Pass@k 512/1000 prompts (51%), 1.2k prompts/s, ETA 0:04`; without a known total,
/// `label 512 prompts, 1.2k prompts/s`. ``advance(by:)`` reads the monotonic clock only every
/// ``checkEvery`` calls, so it costs a counter increment in a hot loop. Not thread-safe: one
/// `ProgressLine` per thread (or advance it from one place).
public final class ProgressLine {
    public enum Style: Sendable, Equatable {
        case terminal, lines, silent

        /// `.terminal` when `fd` is a terminal, else `.lines`; `.silent` when `quiet`.
        public static func automatic(fd: Int32 = 2, quiet: Bool = false) -> Style {
            quiet ? .silent : isatty(fd) == 1 ? .terminal : .lines
        }
    }

    /// What is being done; may change between updates (the sweep puts its runs count here).
    public var label: String
    public let total: Int?
    public let unit: String
    public let style: Style
    /// Seconds between plain lines (``Style/lines``).
    public let interval: Double
    /// Calls of ``advance(by:)`` between clock readings.
    public var checkEvery = 64

    public private(set) var done = 0
    let clock: () -> Double
    let write: (String) -> Void
    let start: Double
    var lastShown: Double
    var shownAny = false
    var calls = 0

    /// - Parameters:
    ///   - label: what is being done, e.g. `"eval: sampled Pass@k"`.
    ///   - total: the amount of work, if known.
    ///   - unit: the plural noun of the work items (`"prompts"`), or empty.
    ///   - style: defaults to ``Style/automatic(fd:quiet:)`` on standard error.
    ///   - clock, write: for tests: a seconds clock and the output (default: monotonic clock, stderr).
    public init(_ label: String, total: Int?, unit: String = "", style: Style = .automatic(), interval: Double = 10,
                clock: @escaping () -> Double = ProgressLine.monotonicSeconds,
                write: @escaping (String) -> Void = ProgressLine.standardError) {
        self.label = label
        self.total = total
        self.unit = unit
        self.style = style
        self.interval = interval
        self.clock = clock
        self.write = write
        start = clock()
        lastShown = start
    }

    /// Counts `n` more items done and shows the line when it is due.
    @inline(__always)
    public func advance(by n: Int = 1) {
        done += n
        calls += 1
        if calls >= checkEvery || (total.map { done >= $0 } ?? false) {
            calls = 0
            tick()
        }
    }

    /// Sets the count of items done (for work that knows its position) and shows the line when due.
    public func update(done value: Int) {
        done = value
        calls = 0
        tick()
    }

    func tick() {
        guard style != .silent else { return }
        let now = clock()
        switch style {
        case .terminal where now - lastShown >= 0.1:
            write("\r" + line(now: now) + "\u{1B}[K")
            lastShown = now
            shownAny = true
        case .lines where now - lastShown >= interval:
            write(line(now: now) + "\n")
            lastShown = now
            shownAny = true
        default:
            break
        }
    }

    /// Shows the final line: ends the live line, or prints a last plain line if any was printed
    /// or the work took at least ``interval``.
    public func finish() {
        let now = clock()
        switch style {
        case .terminal: write("\r" + line(now: now) + "\u{1B}[K\n")
        case .lines where shownAny || now - start >= interval: write(line(now: now) + "\n")
        default: break
        }
    }

    /// The current line, without `\r` or newline.
    public func line(now: Double) -> String {
        Self.format(label: label, done: done, total: total, unit: unit, elapsed: now - start)
    }

    /// The text of a progress line (pure: what the tests check).
    public static func format(label: String, done: Int, total: Int?, unit: String, elapsed: Double) -> String {
        let u = unit.isEmpty ? "" : " \(unit)"
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let rateText = rate > 0 ? ", \(compact(rate))\(u)/s" : ""
        guard let total, total > 0 else { return "\(label) \(done)\(u)\(rateText)" }
        let percent = Int((100 * Double(done) / Double(total)).rounded(.down))
        var text = "\(label) \(done)/\(total)\(u) (\(percent)%)\(rateText)"
        if done >= total {
            text += ", took \(duration(elapsed))"
        } else if rate > 0 {
            text += ", ETA \(duration(Double(total - done) / rate))"
        } else {
            text += ", ETA --:--"
        }
        return text
    }

    /// 950, 9.5k, 12k, 1.2M: two or three significant digits.
    static func compact(_ x: Double) -> String {
        func short(_ v: Double, _ suffix: String) -> String {
            v < 10 ? formatNumber(v, decimals: 1) + suffix : String(Int(v.rounded())) + suffix
        }
        if x >= 999_500 { return short(x / 1e6, "M") }
        if x >= 999.5 { return short(x / 1e3, "k") }
        return x < 10 ? formatNumber(x, decimals: 1) : String(Int(x.rounded()))
    }

    /// m:ss below an hour, h:mm:ss from there.
    static func duration(_ seconds: Double) -> String {
        let s = seconds.isFinite ? max(0, Int(seconds.rounded())) : 0
        let two = { (v: Int) in v < 10 ? "0\(v)" : "\(v)" }
        return s >= 3600 ? "\(s / 3600):\(two(s / 60 % 60)):\(two(s % 60))" : "\(s / 60):\(two(s % 60))"
    }

    /// Writes to standard error (the default output).
    public static func standardError(_ text: String) { Console.writeAll(2, text) }

    /// Seconds on the monotonic clock.
    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
