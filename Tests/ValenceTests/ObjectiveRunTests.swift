import Foundation
import Testing
@testable import Valence

/// The new objectives and loss options end to end with the real executables: Clip-Cov's draw and
/// KL-Cov's selection do not depend on the sharding; every pre-existing objective gives the runs the
/// binaries from before the registry gave (when those runs are at hand).
@Suite(.serialized) struct ObjectiveRunTests {
    static let small = ["--steps", "3", "--digits", "2", "--train", "60", "--test", "40", "--batch", "8", "--group", "4",
                        "--corpus", "2000", "--minibatches", "4", "--seed", "3"]

    func run(_ dir: String, _ args: [String]) throws {
        let r = try TestSupport.run("\(TestSupport.repoRoot)/pipelines/run.sh", [dir] + Self.small + args,
                                    environment: ["VALENCE_BIN": TestSupport.binDirectory])
        try #require(r.status == 0, "\(r.stderr)")
    }

    func checkpoint(_ dir: String, _ step: Int, _ file: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: "\(dir)/steps/\(String(format: "%06d", step))/checkpoint/\(file)"))
    }

    @Test(arguments: [["--objective", "grpo", "--clip", "0.2", "--clip-cov", "0.05", "--clip-cov-lb", "-100", "--clip-cov-ub", "100"],
                      ["--objective", "passk", "--passk-k", "2", "--kl-cov", "0.05", "--kl-cov-coef", "0.5"],
                      ["--objective", "nsr-ul"]])
    func oneShardAndFourShardsGiveIdenticalCheckpoints(args: [String]) throws {
        let dir = TestSupport.temporaryDirectory("valence-obj")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try run("\(dir)/one", args + ["--shards", "1"])
        try run("\(dir)/four", args + ["--shards", "4"])
        for step in 1...3 {
            #expect(try checkpoint("\(dir)/one", step, "policy.jsonl.zst") == checkpoint("\(dir)/four", step, "policy.jsonl.zst"))
        }
        let metrics = { (d: String) in try String(contentsOfFile: "\(d)/metrics.jsonl", encoding: .utf8) }
        #expect(try metrics("\(dir)/one") == metrics("\(dir)/four"))
        // The selection really happened: the update manifest counts the selected tokens.
        let manifest = try String(contentsOfFile: "\(dir)/one/steps/000002/checkpoint/MANIFEST.json", encoding: .utf8)
        if args.contains("--clip-cov") { #expect(manifest.contains("\"clip_cov_tokens\"")) }
        if args.contains("--kl-cov") { #expect(manifest.contains("\"kl_cov_tokens\"")) }
    }

    /// Set VALENCE_GOLDEN_BEFORE to a directory of runs made by Tests/golden/objective-runs.sh with
    /// the binaries from before the registry (e.g. /tmp/objectives-before/runs): the same runs made
    /// now must be identical file by file.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VALENCE_GOLDEN_BEFORE"] != nil))
    func everyPreviousObjectiveGivesByteIdenticalRuns() throws {
        let before = ProcessInfo.processInfo.environment["VALENCE_GOLDEN_BEFORE"] ?? ""
        let dir = TestSupport.temporaryDirectory("valence-golden")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = "\(TestSupport.repoRoot)/Tests/golden/objective-runs.sh"
        let make = try TestSupport.run(script, [TestSupport.binDirectory, dir])
        try #require(make.status == 0, "\(make.stderr)")
        let compare = try TestSupport.run(script, ["--compare", before, dir])
        #expect(compare.status == 0, "\(compare.stdout)")
    }
}
