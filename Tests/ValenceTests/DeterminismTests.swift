import Foundation
import Testing
@testable import Valence

/// docs/model.md 7 end to end, with the real executables: one seed gives byte-identical runs, and the
/// number of shards and the parallelism change file names, never a record, a logit or a metric.
@Suite struct DeterminismTests {
    static let flags = ["--objective", "grpo", "--steps", "2", "--train", "300", "--test", "100", "--batch", "16",
                        "--group", "4", "--corpus", "2000", "--seed", "5"]

    @Test func sameSeedGivesByteIdenticalRuns() throws {
        let dir = TestSupport.temporaryDirectory("valence-det")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["a", "b"] {
            let r = try TestSupport.run("\(TestSupport.repoRoot)/pipelines/run.sh", ["\(dir)/\(name)"] + Self.flags,
                                        environment: ["VALENCE_BIN": TestSupport.binDirectory])
            try #require(r.status == 0, "\(r.stderr)")
        }
        let a = try files(under: "\(dir)/a"), b = try files(under: "\(dir)/b")
        #expect(a.count > 40)
        TestSupport.expectSameFiles(a, b)
    }

    /// SHARDS=2 advanced with `make -j2 step` (two shards at once) against SHARDS=1: the records of
    /// every stage, read across parts in order, the checkpoints and the metrics are identical.
    @Test func twoShardsInParallelEqualOneShard() throws {
        let dir = TestSupport.temporaryDirectory("valence-det")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let one = "\(dir)/one", two = "\(dir)/two"
        let r = try TestSupport.run("\(TestSupport.repoRoot)/pipelines/run.sh", [one] + Self.flags,
                                    environment: ["VALENCE_BIN": TestSupport.binDirectory])
        try #require(r.status == 0, "\(r.stderr)")
        try #require(try TestSupport.valence("init", ["--run", two, "--shards", "2", "-q"] + Self.flags).status == 0)
        for _ in 0..<2 {
            let s = try TestSupport.make(["-j2", "step", "RUN=\(two)", "QUIET=1"])
            try #require(s.status == 0, "\(s.stderr)")
        }
        #expect(try TestSupport.make(["step", "RUN=\(two)"]).stdout.contains("has reached its last step"))
        for step in 1...2 {
            for kind in ["rollouts", "verified", "split/positive", "split/negative", "split/groups", "weighted/positive", "weighted/negative"] {
                let single = try records(one, step: step, kind, shards: 1)
                let sharded = try records(two, step: step, kind, shards: 2)
                #expect(single == sharded, "step \(step) \(kind)")
                #expect(!single.isEmpty || kind.hasPrefix("split/positive") || kind.hasPrefix("weighted/positive"))
            }
        }
        for file in ["metrics.jsonl", RunLayout.policy(2), RunLayout.optimizerState(2), RunLayout.policy(1),
                     "steps/000002/eval/metrics.jsonl"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: "\(one)/\(file)"))
            let b = try Data(contentsOf: URL(fileURLWithPath: "\(two)/\(file)"))
            #expect(a == b, "\(file) differs")
        }
        let metrics = try String(contentsOfFile: "\(two)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 3)
    }

    /// Every file of a run by relative path (the lock file aside).
    func files(under root: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: root) where path != ".lock" {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(root)/\(path)", isDirectory: &isDirectory)
            if !isDirectory.boolValue { out[path] = try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(path)")) }
        }
        return out
    }

    /// The decompressed lines of every part of one stage output, in part order.
    func records(_ run: String, step: Int, _ kind: String, shards: Int) throws -> [String] {
        try (0..<shards).flatMap { shard in
            try TestSupport.zstdLines("\(run)/\(RunLayout.shard(step: step, kind, shard: shard, shards: shards))")
        }
    }
}
