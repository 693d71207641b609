import Foundation
import Testing
@testable import Valence

#if canImport(Glibc)
import Glibc
#endif

/// What cron relies on (`make step` overlapping, after a crash, after the end) and a short run of
/// the SIGKILL fault-injection harness (`make kill-test` runs the full one).
@Suite struct CrashSafetyTests {
    static let flags = ["--steps", "1", "--train", "200", "--test", "100", "--batch", "16", "--group", "4", "--corpus", "2000"]

    func newRun() throws -> (dir: String, run: String) {
        let dir = TestSupport.temporaryDirectory("valence-cron")
        let run = "\(dir)/run"
        let r = try TestSupport.valence("init", ["--run", run, "-q"] + Self.flags)
        try #require(r.status == 0, "\(r.stderr)")
        return (dir, run)
    }

    /// cron's PATH has no swift; with the binaries built, `make step` must not need it.
    static let cronEnvironment = ["PATH": "/usr/local/bin:/usr/bin:/bin"]

    @Test func overlappingStepSaysBusyAndExitsZero() throws {
        let (dir, run) = try newRun()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Hold the run's lock as a running step would.
        let fd = open("\(run)/.lock", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let r = try TestSupport.run("/usr/bin/env", ["make", "--no-print-directory", "CONFIG=debug", "step", "RUN=\(run)"],
                                    cwd: TestSupport.repoRoot, environment: Self.cronEnvironment)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("is busy"))
        #expect(!FileManager.default.fileExists(atPath: "\(run)/steps/000001"), "a busy call does no work")
    }

    @Test func stepWithoutSwiftOnPathCleansLeftoversAndStopsAtTheEnd() throws {
        let (dir, run) = try newRun()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A crash leftover: a temporary file nobody will rename.
        let leftover = "\(run)/steps/000001/rollouts/.part-00000-of-00001.jsonl.zst.tmp"
        try FileManager.default.createDirectory(atPath: "\(run)/steps/000001/rollouts", withIntermediateDirectories: true)
        try Data("partial".utf8).write(to: URL(fileURLWithPath: leftover))
        let make = ["make", "--no-print-directory", "CONFIG=debug", "step", "RUN=\(run)"]
        let first = try TestSupport.run("/usr/bin/env", make, cwd: TestSupport.repoRoot, environment: Self.cronEnvironment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(!FileManager.default.fileExists(atPath: leftover))
        #expect(FileManager.default.fileExists(atPath: "\(run)/\(RunLayout.evalManifest(1))"))
        let metrics = try Data(contentsOf: URL(fileURLWithPath: "\(run)/metrics.jsonl"))
        let done = try TestSupport.run("/usr/bin/env", make, cwd: TestSupport.repoRoot, environment: Self.cronEnvironment)
        #expect(done.status == 0)
        #expect(done.stdout.contains("has reached its last step; nothing to do"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(run)/metrics.jsonl")) == metrics)
        #expect(String(decoding: metrics, as: UTF8.self).split(separator: "\n").count == 2)
    }

    /// The eval boundary: a crash after a step's metrics file but before its manifest. The rerun
    /// evaluates the step again and metrics.jsonl ends with exactly one line per step.
    @Test func crashAtTheEvalBoundaryLeavesNoDuplicateLine() throws {
        let (dir, run) = try newRun()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["VALENCE_BIN": TestSupport.binDirectory, "QUIET": "1"]
        let step = "\(TestSupport.repoRoot)/pipelines/step.sh"
        try #require(try TestSupport.run(step, [run], environment: env).status == 0)
        let complete = try Data(contentsOf: URL(fileURLWithPath: "\(run)/metrics.jsonl"))
        try FileManager.default.removeItem(atPath: "\(run)/\(RunLayout.evalManifest(1))")
        #expect(try TestSupport.valence("status", ["--run", run, "--next"]).stdout == "1\n")
        try #require(try TestSupport.run(step, [run], environment: env).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(run)/metrics.jsonl")) == complete)
    }

    /// The short fault-injection run: a few seeded SIGKILL points, each recovered to a run
    /// byte-identical to the uninterrupted one, on both paths: the in-process step (`make step`)
    /// and the stage executables one by one.
    @Test(arguments: ["in-process", "stages"])
    func shortKillTest(mode: String) throws {
        let r = try TestSupport.run("\(TestSupport.repoRoot)/Tests/fault/kill-test.sh",
                                    ["--points", "6", "--seed", "3", "--mode", mode, "--bin", TestSupport.binDirectory])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("6 kill points (\(mode)") || r.stdout.contains("7 kill points (\(mode)"), "\(r.stdout)")
        #expect(r.stdout.contains(" 0 failed"), "\(r.stdout)")
    }
}
