import Foundation
import Testing
@testable import Valence

/// End to end through the real executables: update keeps the step's PSR and NSR gradient parts,
/// eval writes entropy_pred / entropy_dir_psr / entropy_dir_nsr, and the compare report shows
/// predicted against measured.
@Suite struct EntropyPipelineTests {
    @Test func entropyDecompositionFieldsAndReport() throws {
        let dir = TestSupport.temporaryDirectory("valence-entropy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var runs: [String] = []
        for objective in ["psr", "nsr"] {
            let run = "\(dir)/\(objective)"
            runs.append(run)
            let i = try TestSupport.valence("init", ["--run", run, "--digits", "2", "--train", "200", "--test", "100",
                                                     "--corpus", "2000", "--batch", "16", "--group", "4", "--steps", "3",
                                                     "--optimizer", "sgd", "--lr", "0.3", "--objective", objective, "--quiet"])
            #expect(i.status == 0, "\(i.stderr)")
            for _ in 0..<3 {
                let r = try TestSupport.run("\(TestSupport.repoRoot)/pipelines/step.sh", [run],
                                            environment: ["VALENCE_BIN": TestSupport.binDirectory, "QUIET": "1"])
                #expect(r.status == 0, "\(r.stderr)")
            }
            let lines = try EvalDiagnosticsTests.metrics(run)
            #expect(lines.count == 4)
            for key in EntropyDecomposition.fieldNames { #expect(lines[0][key] is NSNull, "\(key) at step 0") }
            let space = try ContextSpace(task: AddTask(digits: 2), window: 0)
            for step in 1...3 {
                let line = lines[step]
                let delta = try #require(line["entropy_delta"] as? Double)
                let predicted = try #require(line["entropy_pred"] as? Double)
                // lr 0.3 with SGD moves the table a little: the first-order term carries the change.
                #expect(abs(predicted - delta) < 0.1 * abs(delta), "step \(step): predicted \(predicted), measured \(delta)")
                let psr = try #require(line["entropy_dir_psr"] as? Double), nsr = try #require(line["entropy_dir_nsr"] as? Double)
                // Each objective has only its own part; with SGD the step is lr times the gradient, so
                // the prediction is lr times the sum of the directions.
                #expect(objective == "psr" ? (nsr == 0 && psr != 0) : (psr == 0 && nsr != 0))
                #expect(abs(predicted - 0.3 * (psr + nsr)) < 1e-9 * max(1, abs(predicted)))
                // The gradient file holds the parts whose norms update reported.
                let parts = try GradientParts.read(from: "\(run)/\(GradientParts.file(step))", space: space)
                #expect(abs(frobeniusNorm(parts.psr) - (try #require(line["grad_norm_psr"] as? Double))) < 1e-12)
                #expect(abs(frobeniusNorm(parts.nsr) - (try #require(line["grad_norm_nsr"] as? Double))) < 1e-12)
            }
        }
        let out = "\(dir)/report"
        let report = try TestSupport.valence("report", ["--out", out, "--quiet"] + runs)
        #expect(report.status == 0, "\(report.stderr)")
        let md = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        #expect(md.contains("## Entropy decomposition"))
        #expect(md.contains("| psr | 3 |") && md.contains("| nsr | 3 |"))
        let svg = try String(contentsOfFile: "\(out)/entropy.svg", encoding: .utf8)
        #expect(svg.components(separatedBy: "<circle").count - 1 >= 2 * 3 + 2, "3 points per objective plus the legend")
    }
}
