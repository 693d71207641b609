#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Valence

/// The progress line's text, when it is shown in each style, and the terminal / non-terminal choice.
@Suite struct ProgressLineTests {
    /// A progress line on a fake clock that records what it writes.
    final class Recorder {
        var now = 100.0
        var out: [String] = []
        func make(style: ProgressLine.Style, total: Int? = 1000) -> ProgressLine {
            let p = ProgressLine("eval: sampled Pass@k", total: total, unit: "prompts", style: style, interval: 10,
                                 clock: { [unowned self] in now }, write: { [unowned self] in out.append($0) })
            p.checkEvery = 1
            return p
        }
    }

    @Test func formatShowsDoneTotalRateAndETA() {
        #expect(ProgressLine.format(label: "eval", done: 512, total: 1000, unit: "prompts", elapsed: 4)
            == "eval 512/1000 prompts (51%), 128 prompts/s, ETA 0:04")
        #expect(ProgressLine.format(label: "x", done: 1500, total: 1_000_000, unit: "", elapsed: 1)
            == "x 1500/1000000 (0%), 1.5k/s, ETA 11:06")
        #expect(ProgressLine.format(label: "x", done: 3, total: 10_000, unit: "", elapsed: 1)
            == "x 3/10000 (0%), 3.0/s, ETA 55:32")
        #expect(ProgressLine.format(label: "x", done: 100, total: 3_700_000, unit: "", elapsed: 0.1) == "x 100/3700000 (0%), 1.0k/s, ETA 1:01:40")
        #expect(ProgressLine.format(label: "x", done: 0, total: 10, unit: "", elapsed: 0) == "x 0/10 (0%), ETA --:--")
        #expect(ProgressLine.format(label: "x", done: 10, total: 10, unit: "passes", elapsed: 75) == "x 10/10 passes (100%), 0.1 passes/s, took 1:15")
        #expect(ProgressLine.format(label: "x", done: 2_500_000, total: nil, unit: "records", elapsed: 2) == "x 2500000 records, 1.3M records/s")
    }

    @Test func compactRatesAndDurations() {
        #expect(ProgressLine.compact(950) == "950")
        #expect(ProgressLine.compact(999.6) == "1.0k")
        #expect(ProgressLine.compact(12_345) == "12k")
        #expect(ProgressLine.compact(2_345_678) == "2.3M")
        #expect(ProgressLine.duration(59.6) == "1:00")
        #expect(ProgressLine.duration(3600) == "1:00:00")
        #expect(ProgressLine.duration(.infinity) == "0:00")
    }

    @Test func terminalRewritesOneLineAndEndsIt() {
        let r = Recorder()
        let p = r.make(style: .terminal)
        p.advance(by: 100)                    // no time has passed: nothing yet
        #expect(r.out.isEmpty)
        r.now += 0.5
        p.advance(by: 100)
        r.now += 0.05
        p.advance(by: 100)                    // within 0.1 s of the last: not redrawn
        r.now += 0.5
        p.finish()
        #expect(r.out.count == 2)
        #expect(r.out[0] == "\reval: sampled Pass@k 200/1000 prompts (20%), 400 prompts/s, ETA 0:02\u{1B}[K")
        #expect(r.out[1].hasPrefix("\reval: sampled Pass@k 300/1000"))
        #expect(r.out[1].hasSuffix("\u{1B}[K\n"))
        #expect(!r.out.joined().dropLast().contains("\n"))
    }

    @Test func plainLinesComeEveryIntervalWithNoCarriageReturn() {
        let r = Recorder()
        let p = r.make(style: .lines)
        for _ in 0..<25 {
            r.now += 1
            p.advance(by: 10)
        }
        p.finish()
        #expect(r.out == [
            "eval: sampled Pass@k 100/1000 prompts (10%), 10 prompts/s, ETA 1:30\n",
            "eval: sampled Pass@k 200/1000 prompts (20%), 10 prompts/s, ETA 1:20\n",
            "eval: sampled Pass@k 250/1000 prompts (25%), 10 prompts/s, ETA 1:15\n",
        ])
    }

    @Test func shortWorkIsSilentInPlainLinesAndSilentIsSilent() {
        let r = Recorder()
        let p = r.make(style: .lines)
        r.now += 3
        p.advance(by: 1000)
        p.finish()
        let q = r.make(style: .silent)
        r.now += 30
        q.advance(by: 10)
        q.finish()
        #expect(r.out.isEmpty)
    }

    @Test func styleFollowsWhetherTheDescriptorIsATerminal() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(ProgressLine.Style.automatic(fd: fds[1]) == .lines)
        #expect(ProgressLine.Style.automatic(fd: fds[1], quiet: true) == .silent)
        // A pseudo-terminal's master side is a terminal device (isatty is true), like a login's tty.
        let terminal = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        try #require(terminal >= 0)
        defer { close(terminal) }
        #expect(ProgressLine.Style.automatic(fd: terminal) == .terminal)
        #expect(ProgressLine.Style.automatic(fd: terminal, quiet: true) == .silent)
    }
}
