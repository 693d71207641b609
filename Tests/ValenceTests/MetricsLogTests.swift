import Foundation
import Testing
@testable import Valence

/// `metrics.jsonl` grows by appends that a kill cannot corrupt or double.
@Suite struct MetricsLogTests {
    func line(_ step: Int) -> [UInt8] { Array("{\"schema\":\"valence.metrics/1\",\"run\":\"x\",\"step\":\(step),\"pass@1\":0.5}\n".utf8) }

    /// A run directory with eval files for steps 0..<n (manifests present for all but `pending`).
    func layout(steps n: Int) throws -> RunLayout {
        let layout = RunLayout(root: TestSupport.temporaryDirectory("valence-metrics"))
        for s in 0..<n {
            try FileSystem.writeAtomically(layout.path(RunLayout.evalMetrics(s)), bytes: line(s))
            try FileSystem.writeAtomically(layout.path(RunLayout.evalManifest(s)), text: "{}")
        }
        return layout
    }

    func contents(_ layout: RunLayout) throws -> [UInt8] { try FileSystem.readFile(layout.metrics) }

    @Test func appendsInOrderAndNeverDoubles() throws {
        let l = try layout(steps: 3)
        defer { FileSystem.removeTree(l.root) }
        let log = MetricsLog(layout: l)
        for s in 0..<3 { try log.record(step: s, lines: line(s)) }
        #expect(try contents(l) == line(0) + line(1) + line(2))
        // Killed after the append, before eval's manifest: the rerun finds its lines there.
        try log.record(step: 2, lines: line(2))
        #expect(try contents(l) == line(0) + line(1) + line(2))
        #expect(log.lastStep() == 2)
    }

    @Test func aPartialLastLineIsCutOffThenAppended() throws {
        let l = try layout(steps: 3)
        defer { FileSystem.removeTree(l.root) }
        let log = MetricsLog(layout: l)
        try log.record(step: 0, lines: line(0))
        try log.record(step: 1, lines: line(1))
        // A kill in the middle of step 2's append.
        let partial = Array(line(2).prefix(20))
        try FileSystem.writeAtomically(l.metrics, bytes: try contents(l) + partial)
        #expect(log.lastStep() == nil, "a partial line is not a step")
        try log.record(step: 2, lines: line(2))
        #expect(try contents(l) == line(0) + line(1) + line(2))
    }

    @Test func outOfOrderOrEditedLogsAreRebuiltFromTheStepFiles() throws {
        let l = try layout(steps: 4)
        defer { FileSystem.removeTree(l.root) }
        let log = MetricsLog(layout: l)
        try log.record(step: 0, lines: line(0))
        try log.record(step: 1, lines: line(1))
        // Step 3 before step 2 (a hand run): rebuilt from every evaluated step, in order.
        try log.record(step: 3, lines: line(3))
        #expect(try contents(l) == line(0) + line(1) + line(2) + line(3))
        // A person replaced the last line: the same step's record does not match, so rebuild.
        try FileSystem.writeAtomically(l.metrics, bytes: line(0) + line(1) + line(2) + Array("{\"step\":3}\n".utf8))
        try log.record(step: 3, lines: line(3))
        #expect(try contents(l) == line(0) + line(1) + line(2) + line(3))
        #expect(!FileSystem.exists(FileSystem.temporaryName(for: l.metrics)))
    }

    @Test func stepOfLine() {
        #expect(MetricsLog.step(ofLine: line(12)[...]) == 12)
        #expect(MetricsLog.step(ofLine: Array("{\"x\":1}".utf8)[...]) == nil)
    }
}
