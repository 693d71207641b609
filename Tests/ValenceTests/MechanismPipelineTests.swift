import Foundation
import Testing
@testable import Valence

/// `make mechanism` end to end on a tiny grid: every cell reaches the report, with its figure per
/// regime, the paired gaps, findings and the CSV; expected mode makes psr and nsr identical.
@Suite struct MechanismPipelineTests {
    @Test func smallGridThroughMakeGivesEveryCell() throws {
        let dir = TestSupport.temporaryDirectory("valence-mechanism")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let grid = """
            {"name": "mechanism-test", "out": "\(dir)/unused", "report": "mechanism",
             "path": "w{window}/{optimizer}/{rollouts}/G{group}/{objective}/seed{seed}",
             "set": {"steps": 2, "digits": 1, "train": 40, "test": 20, "corpus": 200, "batch": 8},
             "axes": {"window": [0], "optimizer": ["adam", "sgd"], "objective": ["psr", "nsr"], "seed": [1, 2, 3]},
             "cases": [{"rollouts": ["sampled"], "group": [2, 4]}, {"rollouts": ["expected"], "group": [4]}]}
            """
        try grid.write(toFile: "\(dir)/grid.json", atomically: true, encoding: .utf8)
        let out = "\(dir)/out"
        let r = try TestSupport.make(["mechanism", "SWIFT=true", "MECHANISM_GRID=\(dir)/grid.json", "OUT=\(out)", "SEEDS=1 2"])
        #expect(r.status == 0, "make mechanism failed: \(r.stderr.suffix(2000)) \(r.stdout.suffix(2000))")
        #expect((r.stdout + r.stderr).contains("mechanism-test: 24 runs"), "SEEDS overrides the grid's three seeds: \(r.stderr)")
        let report = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        for regime in ["WINDOW=0, adam", "WINDOW=0, sgd"] {
            #expect(report.contains("## \(regime)"))
            #expect(report.contains("**\(regime)**: The NSR - PSR entropy gap"))
        }
        for file in ["mechanism-w0-adam.svg", "mechanism-w0-sgd.svg", "mechanism.csv"] {
            #expect(FileManager.default.fileExists(atPath: "\(out)/\(file)"), "\(file)")
        }
        // Every cell: 2 regimes x 3 settings x 2 objectives, each over the 2 seeds.
        let csv = try String(contentsOfFile: "\(out)/mechanism.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 1 + 2 * 3 * 2)
        #expect(csv.dropFirst().allSatisfy { $0.split(separator: ",")[4] == "2" })
        // The gap table has a row per setting in each regime, and expected mode's gap is exactly 0.
        #expect(report.components(separatedBy: "| G = 2 |").count - 1 >= 2 * 4)
        #expect(report.contains("In expected mode it vanishes"))
        let svg = try String(contentsOfFile: "\(out)/mechanism-w0-sgd.svg", encoding: .utf8)
        #expect(svg.contains(">exp</text>") && svg.contains("data-series=\"nsr\""))
    }

    /// Findings follow the numbers: a hand-made set of final lines where the entropy gap is large
    /// at small G and absent at large G.
    @Test func findingsSayWhereTheGapStopsBeingResolved() throws {
        func run(_ objective: Objective, group: Int?, seed: UInt64, entropy: Double) -> MechanismReport.Run {
            var c = RunConfig()
            c.objective = objective
            c.seed = seed
            if let group { c.group = group } else { c.rollouts = .expected }
            let line = MetricsLine(step: 60, objective: objective.rawValue, window: 0, seed: Int(seed), split: "test",
                                   passAtK: PassAtK.ks.map { _ in 0.5 }, entropy: entropy, greedy: 0.5, fields: .object([]))
            return MechanismReport.Run(path: "r", config: c, final: line)
        }
        var runs: [MechanismReport.Run] = []
        for seed in UInt64(1)...3 {
            let noise = Double(seed) * 0.001
            for (g, gap) in [(2, 0.3), (8, 0.1), (32, 0.0005), (128, -0.0004)] {
                runs.append(run(.psr, group: g, seed: seed, entropy: 1 + noise))
                runs.append(run(.nsr, group: g, seed: seed, entropy: 1 + noise + gap + (seed == 2 ? 0.003 : 0)))
            }
            runs.append(run(.psr, group: nil, seed: seed, entropy: 1 + noise))
            runs.append(run(.nsr, group: nil, seed: seed, entropy: 1 + noise))
        }
        let report = MechanismReport(runs: runs)
        let text = report.findings.joined(separator: "\n")
        #expect(text.contains("entropy gap is resolved at G = 2, 8 and stops being resolved from G = 32 on"), "\(text)")
        #expect(text.contains("In expected mode it vanishes"))
        #expect(text.contains("Pass@256 gap is not resolved"))
    }
}
