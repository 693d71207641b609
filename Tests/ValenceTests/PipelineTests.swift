import Foundation
import Testing
@testable import Valence

/// End to end: the real executables and make targets on small configs.
@Suite(.serialized) struct PipelineTests {
    /// Small but real: nd = 2, B = 16, G = 8.
    func initArgs(_ run: String, shards: Int, objective: String = "reinforce", steps: Int = 2) -> [String] {
        ["--run", run, "--digits", "2", "--train", "200", "--test", "100", "--batch", "16", "--group", "8",
         "--corpus", "2000", "--objective", objective, "--steps", String(steps), "--shards", String(shards), "--quiet"]
    }

    /// Runs step 0's eval and `steps` steps stage by stage with the executables.
    func runSteps(_ run: String, steps: Int, jobs: Int = 1) throws {
        try expectOK(try TestSupport.valence("eval", ["--run", run, "--step", "0", "--quiet"]))
        for step in 1...steps {
            for stage in ["generate", "verify", "split", "weight"] {
                try expectOK(try TestSupport.valence(stage, ["--run", run, "--step", String(step), "--jobs", String(jobs), "--quiet"]))
            }
            try expectOK(try TestSupport.valence("update", ["--run", run, "--step", String(step), "--quiet"]))
            try expectOK(try TestSupport.valence("eval", ["--run", run, "--step", String(step), "--quiet"]))
        }
    }

    func expectOK(_ r: TestSupport.Result, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
        if r.status != 0 { throw ValenceError.config(detail: r.stderr) }
    }

    /// Every record of a step directory's shards, parts concatenated in order (the canonical order).
    func records(_ run: String, step: Int, _ directory: String) throws -> [String] {
        let dir = "\(run)/\(RunLayout.stepDirectory(step))/\(directory)"
        return try FileSystem.list(dir).filter { $0.hasSuffix(".jsonl.zst") }.flatMap { try TestSupport.zstdLines("\(dir)/\($0)") }
    }

    @Test func oneShardAndFourShardsGiveIdenticalRecordsAndPolicy() throws {
        let root = TestSupport.temporaryDirectory()
        try expectOK(try TestSupport.valence("init", initArgs("\(root)/one", shards: 1)))
        try expectOK(try TestSupport.valence("init", initArgs("\(root)/four", shards: 4)))
        try runSteps("\(root)/one", steps: 2)
        try runSteps("\(root)/four", steps: 2, jobs: 2)
        for dir in ["rollouts", "verified", "split/positive", "split/negative", "split/groups", "weighted/positive", "weighted/negative"] {
            let a = try records("\(root)/one", step: 2, dir)
            #expect(!a.isEmpty || dir.contains("positive") || dir.contains("negative"))
            #expect(a == (try records("\(root)/four", step: 2, dir)), "\(dir) differs")
        }
        #expect(try records("\(root)/one", step: 2, "rollouts").count == 16 * 8)
        for file in [RunLayout.policy(2), RunLayout.optimizerState(2)] {
            #expect(try FileSystem.readFile("\(root)/one/\(file)") == FileSystem.readFile("\(root)/four/\(file)"), "\(file) differs")
        }
        #expect(try FileSystem.readFile("\(root)/one/metrics.jsonl") == FileSystem.readFile("\(root)/four/metrics.jsonl"))
        // Four shards really were four parts.
        #expect(try FileSystem.list("\(root)/four/\(RunLayout.stepDirectory(1))/rollouts").filter { $0.hasSuffix(".zst") }.count == 4)
    }

    @Test func sameSeedGivesByteIdenticalRuns() throws {
        let root = TestSupport.temporaryDirectory()
        for name in ["x", "y"] {
            try expectOK(try TestSupport.valence("init", initArgs("\(root)/\(name)", shards: 2)))
            try runSteps("\(root)/\(name)", steps: 2)
        }
        let files = try allFiles("\(root)/x")
        #expect(files.count > 20)
        #expect(files == (try allFiles("\(root)/y")))
        for f in files {
            #expect(try FileSystem.readFile("\(root)/x/\(f)") == FileSystem.readFile("\(root)/y/\(f)"), "\(f) differs")
        }
        // A different seed changes the numbers.
        try expectOK(try TestSupport.valence("init", initArgs("\(root)/z", shards: 2) + ["--seed", "2"]))
        try runSteps("\(root)/z", steps: 1)
        #expect(try FileSystem.readFile("\(root)/x/\(RunLayout.policy(1))") != FileSystem.readFile("\(root)/z/\(RunLayout.policy(1))"))
    }

    func allFiles(_ dir: String, prefix: String = "") throws -> [String] {
        var out: [String] = []
        for name in try FileSystem.list(dir, includeHidden: true) where name != ".lock" {
            let rel = prefix.isEmpty ? name : "\(prefix)/\(name)"
            if FileSystem.isDirectory("\(dir)/\(name)") { out += try allFiles("\(dir)/\(name)", prefix: rel) } else { out.append(rel) }
        }
        return out.sorted()
    }

    @Test func rerunningAStageChangesNothing() throws {
        let root = TestSupport.temporaryDirectory()
        let run = "\(root)/r"
        try expectOK(try TestSupport.valence("init", initArgs(run, shards: 1)))
        try runSteps(run, steps: 1)
        let before = try allFiles(run).map { try FileSystem.readFile("\(run)/\($0)") }
        let again = try TestSupport.valence("verify", ["--run", run, "--step", "1"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("up to date"))
        try runSteps(run, steps: 1)
        #expect(try allFiles(run).map { try FileSystem.readFile("\(run)/\($0)") } == before)
        #expect(try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n").count == 2)
    }

    @Test func missingUpstreamIsAClearError() throws {
        let root = TestSupport.temporaryDirectory()
        let run = "\(root)/r"
        try expectOK(try TestSupport.valence("init", initArgs(run, shards: 1)))
        let r = try TestSupport.valence("split", ["--run", run, "--step", "1"])
        #expect(r.status == 66)
        #expect(r.stderr.contains("valence-split: error: \(run)/steps/000001/verified/part-00000-of-00001.manifest.json: missing upstream manifest"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!FileSystem.exists("\(run)/steps/000001/split"))
    }

    /// The README's promise, through make: a few steps of psr on WINDOW=1 lift Pass@1 above base.
    @Test func makeRunImprovesPsrOnWindowOne() throws {
        let root = TestSupport.temporaryDirectory()
        let run = "\(root)/psr"
        let r = try TestSupport.make(["run", "RUN=\(run)", "OBJECTIVE=psr", "WINDOW=1", "STEPS=6", "BATCH=32", "TEST=300"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("eval: step 6/6"))
        let lines = try MetricsLine.load("\(run)/metrics.jsonl")
        #expect(lines.map(\.step) == Array(0...6))
        let text = try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8)
        for key in ["\"pass@1\"", "\"pass@256\"", "\"entropy\"", "\"greedy\"", "\"batch_correct\"", "\"positives\"", "\"negatives\""] {
            #expect(text.contains(key))
        }
        let base = try #require(lines.first), last = try #require(lines.last)
        #expect(last.passAtK[0] > base.passAtK[0] + 0.01, "pass@1 \(base.passAtK[0]) -> \(last.passAtK[0])")
        #expect(last.number("positives")! + last.number("negatives")! == 32 * 8)
        // Complete: make step does nothing more and says so.
        let more = try TestSupport.make(["step", "RUN=\(run)"])
        #expect(more.status == 0)
        #expect(more.stdout.contains("reached its last step"))
    }

    @Test func stagesByHandThroughMake() throws {
        let root = TestSupport.temporaryDirectory()
        let run = "\(root)/byhand"
        let common = ["RUN=\(run)", "OBJECTIVE=grpo", "STEPS=1", "BATCH=8", "DIGITS=2", "TRAIN=100", "TEST=50", "CORPUS=500", "SHARDS=2"]
        try expectOK(try TestSupport.make(["init"] + common))
        try expectOK(try TestSupport.make(["eval", "STEP=0"] + common))
        for stage in ["generate", "verify", "split", "weight"] {
            try expectOK(try TestSupport.make([stage, "STEP=1", "SHARD=0"] + common))
            try expectOK(try TestSupport.make([stage, "STEP=1", "SHARD=1"] + common))
        }
        try expectOK(try TestSupport.make(["update", "STEP=1"] + common))
        try expectOK(try TestSupport.make(["eval", "STEP=1"] + common))
        let status = try TestSupport.make(["status"] + common)
        #expect(status.stdout.contains("complete: 1 of 1 steps (grpo"))
        let weighted = try records(run, step: 1, "weighted/positive") + records(run, step: 1, "weighted/negative")
        #expect(weighted.count == 8 * 8)
        #expect(weighted.allSatisfy { $0.contains("\"schema\":\"valence.weighted/1\"") && $0.contains("\"adv\":") })
        // A report over the finished run.
        let report = try TestSupport.make(["report", "OUT=\(root)/report", "RUNS=\(run)"])
        #expect(report.status == 0, "\(report.stderr)")
        let md = try String(contentsOfFile: "\(root)/report/report.md", encoding: .utf8)
        #expect(md.contains("| grpo |") && md.contains("| base |"))
    }
}
