import Foundation
import Testing
@testable import Valence

/// `make ablation` end to end on a tiny regime: every cell of the grid, one seed, two steps.
@Suite struct AblationPipelineTests {
    @Test func ablationRunsThroughMakeOnATinyConfig() throws {
        let out = TestSupport.temporaryDirectory("valence-ablation")
        defer { try? FileManager.default.removeItem(atPath: out) }
        // SWIFT=true: the debug build is already there (make test built it), and a nested
        // `swift build` would wait forever on the lock `swift test` holds on .build.
        let r = try TestSupport.make([
            "ablation", "SWIFT=true", "ABLATION_OUT=\(out)", "ABLATION_SEEDS=1", "STEPS=2", "BATCH=6", "GROUP=4",
            "DIGITS=1", "TRAIN=40", "TEST=20", "CORPUS=200",
        ])
        #expect(r.status == 0, "make ablation failed: \(r.stderr.suffix(2000)) \(r.stdout.suffix(2000))")
        let report = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        let tableRows = report.split(separator: "\n").filter { $0.hasPrefix("| sgd") || $0.hasPrefix("| adam") }
        #expect(tableRows.count == 2 * 2 * 2 * 3)
        for cell in ["sgd, M = 1, no clip", "sgd, M = 4, clip 0.200", "adam, M = 4, no clip", "adam, M = 1, clip 0.200"] {
            #expect(report.contains("| \(cell) | nsr |"), "missing cell \(cell)")
            #expect(report.contains("- \(cell): Pass@1 "), "missing PSR-vs-NSR line for \(cell)")
        }
        #expect(report.contains("With one seed per cell there is no standard error"))
        let csv = try String(contentsOfFile: "\(out)/ablation.csv", encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 1 + 24)
        let config = try RunConfig.load("\(out)/adam-m4-clip0.2/seed1/nsr/config.json")
        #expect(config.minibatches == 4 && config.clip == 0.2 && config.optimizer == .adam && config.objective == .nsr)
        #expect(config.digits == 1 && config.steps == 2 && config.batch == 6)
        // M = 4 takes four optimizer steps per training step.
        let m = try Manifest.read("\(out)/adam-m4-clip0.2/seed1/nsr/\(RunLayout.checkpointManifest(2))")
        #expect(m.stat("t")?.intValue == 8)
        #expect(m.stat("clip_fraction") != nil)
    }
}
