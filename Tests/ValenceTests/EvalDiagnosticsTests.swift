import Foundation
import Testing
@testable import Valence

/// End to end through the real executables: the eval stage's per-step diagnostics, sampled Pass@k
/// and the report's files on a tiny run.
@Suite struct EvalDiagnosticsTests {
    static func metrics(_ run: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func stepDiagnosticsSampledPassAtKAndReport() throws {
        let dir = TestSupport.temporaryDirectory("valence-evaldiag")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = "\(dir)/nsr"
        let initResult = try TestSupport.valence("init", ["--run", run, "--digits", "2", "--train", "200", "--test", "100",
                                                          "--corpus", "2000", "--batch", "16", "--group", "4", "--steps", "2",
                                                          "--objective", "nsr", "--quiet"])
        #expect(initResult.status == 0, "\(initResult.stderr)")
        for _ in 0..<2 {
            let r = try TestSupport.run("\(TestSupport.repoRoot)/pipelines/step.sh", [run],
                                        environment: ["VALENCE_BIN": TestSupport.binDirectory, "QUIET": "1"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        var lines = try Self.metrics(run)
        #expect(lines.map { $0["step"] as? Int } == [0, 1, 2])
        #expect(lines[0]["entropy_delta"] is NSNull)
        for step in 1...2 {
            let line = lines[step]
            let delta = try #require(line["entropy_delta"] as? Double)
            let h1 = try #require(line["entropy"] as? Double), h0 = try #require(lines[step - 1]["entropy"] as? Double)
            #expect(abs(delta - (h1 - h0)) < 1e-12)
            #expect(try #require(line["redist_rows"] as? Double) > 0)
            #expect(try #require(line["redist_removed"] as? Double) > 0)
            #expect(line["redist_to_correct"] is Double)
            #expect(try #require(line["grad_norm_nsr"] as? Double) > 0)
            #expect(line["sampled_n"] == nil)
        }

        let tooFew = try TestSupport.valence("eval", ["--run", run, "--step", "2", "--samples", "100"])
        #expect(tooFew.status == 78)
        #expect(tooFew.stderr.contains("--samples 100"))

        let sampled = try TestSupport.valence("eval", ["--run", run, "--step", "2", "--samples", "256", "--quiet"])
        #expect(sampled.status == 0, "\(sampled.stderr)")
        lines = try Self.metrics(run)
        #expect(lines.count == 3)
        #expect(lines[2]["sampled_n"] as? Int == 256)
        let exact1 = try #require(lines[2]["pass@1"] as? Double), sampled1 = try #require(lines[2]["sampled_pass@1"] as? Double)
        #expect(abs(exact1 - sampled1) < 0.05)
        #expect(lines[2]["sampled_pass@256"] is Double)

        let out = "\(dir)/report"
        let report = try TestSupport.valence("report", ["--out", out, run, "--quiet"])
        #expect(report.status == 0, "\(report.stderr)")
        let md = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        #expect(md.contains("## Sampled versus exact Pass@k"))
        #expect(md.contains("Mass redistribution under nsr"))
        for file in ComparisonReport.figureFiles + ["passk.csv", "passk_summary.csv", "steps.csv"] {
            #expect(FileManager.default.fileExists(atPath: "\(out)/\(file)"), "\(file)")
        }
    }
}
