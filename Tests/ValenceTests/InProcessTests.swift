import Foundation
import Testing
@testable import Valence

/// The in-process step (`valence-step`, what `make run`, `make step` and the sweep use) writes the
/// very same run directory, byte for byte, as the separate stage executables run one by one.
@Suite struct InProcessTests {
    static let flags = ["--steps", "3", "--train", "300", "--test", "100", "--batch", "16", "--group", "4",
                        "--corpus", "2000", "--seed", "9", "--shards", "2"]

    @Test(arguments: [["--objective", "grpo"], ["--objective", "ppo", "--minibatches", "2", "--clip", "0.2"],
                      ["--objective", "nsr", "--filter-groups", "--kl-coef", "0.01"]])
    func inProcessRunEqualsStageByStage(_ objective: [String]) throws {
        let dir = TestSupport.temporaryDirectory("valence-inprocess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let staged = "\(dir)/staged", inProcess = "\(dir)/in-process"
        for run in [staged, inProcess] {
            try #require(try TestSupport.valence("init", ["--run", run, "-q"] + Self.flags + objective).status == 0)
        }
        func stage(_ tool: String, _ args: [String]) throws {
            let r = try TestSupport.valence(tool, ["--run", staged, "-q"] + args)
            try #require(r.status == 0, "valence-\(tool) \(args): \(r.stderr)")
        }
        try stage("eval", ["--step", "0"])
        for step in 1...3 {
            for tool in ["generate", "verify", "split", "weight"] { try stage(tool, ["--step", "\(step)"]) }
            try stage("update", ["--step", "\(step)"])
            try stage("eval", ["--step", "\(step)"])
        }
        let r = try TestSupport.valence("step", ["--run", inProcess, "--all", "--jobs", "2"])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").filter { $0.hasPrefix("eval: step") }.count == 4, "one eval line per step: \(r.stderr)")
        let a = try TestSupport.runFiles(staged), b = try TestSupport.runFiles(inProcess)
        #expect(a.count > 60)
        TestSupport.expectSameFiles(a, b)
    }

    /// `valence-step --create` (`make run`) creates the run as valence-init does and runs it; a
    /// refused setting exits as valence-init would and leaves nothing, not even the directory.
    @Test func createMakesTheRunAsInitDoesOrLeavesNothing() throws {
        let dir = TestSupport.temporaryDirectory("valence-inprocess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let created = "\(dir)/created", initialised = "\(dir)/initialised"
        let settings = ["--steps", "2"] + Self.flags.dropFirst(2)
        let made = try TestSupport.valence("step", ["--run", created, "--all", "--create", "-q"] + settings)
        try #require(made.status == 0, "\(made.stderr)")
        try #require(try TestSupport.valence("init", ["--run", initialised, "-q"] + settings).status == 0)
        try #require(try TestSupport.valence("step", ["--run", initialised, "--all", "-q"]).status == 0)
        let a = try TestSupport.runFiles(created), b = try TestSupport.runFiles(initialised)
        TestSupport.expectSameFiles(a, b)
        // Again with the same settings: nothing to do; with others: refused, the run untouched.
        #expect(try TestSupport.valence("step", ["--run", created, "--all", "--create", "-q"] + settings).status == 0)
        let other = try TestSupport.valence("step", ["--run", created, "--all", "--create", "-q", "--objective", "nsr"] + settings)
        #expect(other.status == 78 && other.stderr.contains("holds a different run"), "\(other.stderr)")
        #expect(try TestSupport.runFiles(created) == a)
        // A value that does not parse (64) or an undefined combination (78): no directory left.
        let bad = try TestSupport.valence("step", ["--run", "\(dir)/bad", "--all", "--create", "--objective", "bogus"])
        #expect(bad.status == 64 && !FileManager.default.fileExists(atPath: "\(dir)/bad"), "\(bad.stderr)")
        let undefined = try TestSupport.valence("step", ["--run", "\(dir)/undefined", "--all", "--create", "--clip-low", "0.2"])
        #expect(undefined.status == 78 && !FileManager.default.fileExists(atPath: "\(dir)/undefined"), "\(undefined.stderr)")
        // Settings need --create.
        let stray = try TestSupport.valence("step", ["--run", created, "--seed", "9"])
        #expect(stray.status == 64 && stray.stderr.contains("need --create"), "\(stray.stderr)")
    }

    /// One call, one step; a complete run says so; a busy run (lock held) exits 0 at once with one
    /// line, and 75 with --all.
    @Test func stepByStepBusyAndComplete() throws {
        let dir = TestSupport.temporaryDirectory("valence-inprocess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = "\(dir)/run"
        try #require(try TestSupport.valence("init", ["--run", run, "-q", "--steps", "2"] + Self.flags.dropFirst(2)).status == 0)
        let first = try TestSupport.valence("step", ["--run", run])
        try #require(first.status == 0, "\(first.stderr)")
        // The first call evaluates the base and takes step 1.
        #expect(first.stderr.contains("eval: step 0/2") && first.stderr.contains("eval: step 1/2"))
        let held = try #require(try FileLock.acquireIfFree("\(run)/.lock"))
        let busy = try TestSupport.valence("step", ["--run", run])
        #expect(busy.status == 0 && busy.stdout.contains("is busy"))
        let busyAll = try TestSupport.valence("step", ["--run", run, "--all"])
        #expect(busyAll.status == 75 && busyAll.stderr.contains("is busy"))
        held.release()
        #expect(try TestSupport.valence("step", ["--run", run]).stderr.contains("eval: step 2/2"))
        let done = try TestSupport.valence("step", ["--run", run])
        #expect(done.status == 0 && done.stdout.contains("has reached its last step"))
        let metrics = try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 3)
        // Lock files: one per stage part, however many steps ran.
        let locks = try FileManager.default.contentsOfDirectory(atPath: "\(run)/.locks")
        #expect(locks.count == 4 * 2 + 2 + 1, "\(locks.sorted())")
        #expect(try TestSupport.valence("step", ["--run", "\(dir)/none"]).status == 66)
    }

    /// In-process steps do not fsync every file (``Durability/stepBarrier``): a call records this
    /// boot in `RUN/.synced` before it writes anything, syncs what earlier calls wrote, and ends
    /// without syncing. A power cut starts a new boot, and can leave manifests whose outputs never
    /// reached the disk; the next call then finds the steps after the last synced one written in
    /// another boot, runs their parts again, and each rewrites what no longer matches its manifest.
    /// Simulated here by a record from another boot and what a lost write leaves (a zeroed
    /// checkpoint, an empty shard, a lost metrics line): the run ends byte-identical to one never
    /// interrupted.
    @Test(.enabled(if: BootIdentity.current != nil, "needs a boot id (Linux)"))
    func lostWritesOfAnEarlierBootAreRedone() throws {
        let dir = TestSupport.temporaryDirectory("valence-inprocess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reference = "\(dir)/reference", run = "\(dir)/run"
        let flags = ["-q", "--steps", "3"] + Self.flags.dropFirst(2)
        for r in [reference, run] { try #require(try TestSupport.valence("init", ["--run", r] + flags).status == 0) }
        try #require(try TestSupport.valence("step", ["--run", reference, "--all", "-q"]).status == 0)
        for _ in 0..<2 { try #require(try TestSupport.valence("step", ["--run", run, "-q"]).status == 0) }
        // The second call synced what the first wrote (steps 0 and 1), then wrote step 2 unsynced.
        let boot = try #require(BootIdentity.current)
        #expect(try Self.record(run) == "synced 1\nboot \(boot)\n")

        // A power cut after step 2's manifests, before anything synced them: a new boot.
        try "synced 1\nboot 00000000-0000-4000-8000-000000000000\n".write(toFile: "\(run)/.synced", atomically: true, encoding: .utf8)
        let policy = "\(run)/\(RunLayout.policy(2))"
        let size = try Data(contentsOf: URL(fileURLWithPath: policy)).count
        try Data(count: size).write(to: URL(fileURLWithPath: policy))
        try Data().write(to: URL(fileURLWithPath: "\(run)/steps/000002/rollouts/part-00001-of-00002.jsonl.zst"))
        let metrics = try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        try (metrics.dropLast().joined(separator: "\n") + "\n").write(toFile: "\(run)/metrics.jsonl", atomically: true, encoding: .utf8)

        let r = try TestSupport.valence("step", ["--run", run, "--all", "--verbose"])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("generate: step 2 part 2/2: "), "the emptied shard is written again: \(r.stderr)")
        #expect(r.stderr.contains("update: step 2: "), "the zeroed checkpoint is written again: \(r.stderr)")
        #expect(r.stderr.contains("split: step 2 part 1/2 is up to date"), "what was intact is left alone: \(r.stderr)")
        #expect(!r.stderr.contains("step 1 part 1/2 is up to date"), "step 1 was synced: not verified again: \(r.stderr)")
        #expect(try Self.record(run) == "synced 2\nboot \(boot)\n")
        let a = try TestSupport.runFiles(reference), b = try TestSupport.runFiles(run)
        TestSupport.expectSameFiles(a, b)
    }

    /// In the boot that wrote them, the steps after the last synced one are exactly as written (a
    /// kill loses nothing, and a power cut starts a new boot): the next call syncs them without
    /// running their parts again. A record that names no boot (an earlier version's) leaves them to
    /// be verified, as after a reboot. Steps written again after a rewind stop counting as synced.
    /// `valence-status` says where each stands.
    @Test(.enabled(if: BootIdentity.current != nil, "needs a boot id (Linux)"))
    func stepsWrittenInThisBootAreSyncedNotVerified() throws {
        let dir = TestSupport.temporaryDirectory("valence-inprocess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try Self.newRun(in: dir, steps: 3)
        try #require(try TestSupport.valence("step", ["--run", run, "-q"]).status == 0)  // steps 0 and 1
        let boot = try #require(BootIdentity.current)
        #expect(try Self.record(run) == "boot \(boot)\n")
        func status() throws -> String { try TestSupport.valence("status", ["--run", run]).stdout }
        #expect(try status().contains("\(run): steps 0-1 written in this boot, synced by the next call\n"))

        var r = try TestSupport.valence("step", ["--run", run, "--verbose"])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("step 1 part"), "step 1, written in this boot, is not verified: \(r.stderr)")
        #expect(r.stderr.contains("generate: step 2 part 1/2: "), "\(r.stderr)")
        #expect(try Self.record(run) == "synced 1\nboot \(boot)\n")
        #expect(try status().contains("\(run): synced through step 1; step 2 written in this boot, synced by the next call\n"))

        // An earlier version's record (the synced step alone): step 2 is verified, then synced.
        try "1\n".write(toFile: "\(run)/.synced", atomically: true, encoding: .utf8)
        #expect(try status().contains("\(run): synced through step 1; step 2 not known to be synced"))
        r = try TestSupport.valence("step", ["--run", run, "--verbose"])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("generate: step 2 part 1/2 is up to date"), "\(r.stderr)")
        #expect(!r.stderr.contains("step 1 part"), "\(r.stderr)")
        #expect(try Self.record(run) == "synced 2\nboot \(boot)\n")
        #expect(try status() == "\(run): complete: 3 of 3 steps (w-reinforce, window 0, seed 9)\n\(run): synced through step 2; step 3 written in this boot, synced by the next call\n")
        // The call on a complete run syncs what the last one wrote.
        try #require(try TestSupport.valence("step", ["--run", run, "-q"]).status == 0)
        #expect(try Self.record(run) == "synced 3\nboot \(boot)\n")
        #expect(try status().hasSuffix("\(run): synced through step 3\n"))

        // A rewind: steps 2 and 3 deleted and taken again are no longer synced.
        for step in [2, 3] { try FileManager.default.removeItem(atPath: "\(run)/\(RunLayout.stepDirectory(step))") }
        try #require(try TestSupport.valence("step", ["--run", run, "--all", "-q"]).status == 0)
        #expect(try Self.record(run) == "synced 1\nboot \(boot)\n")
        #expect(try status().hasSuffix("\(run): synced through step 1; steps 2-3 written in this boot, synced by the next call\n"))
    }

    /// A failed `syncfs` (a write-back error, which the kernel reports once) fails the call that
    /// meets it (exit 74, one line), and the record stops vouching for the unsynced steps: the
    /// next call verifies them instead of trusting them, then syncs. The failure is injected with
    /// strace.
    @Test(.enabled(if: BootIdentity.current != nil && TestSupport.straceWorks, "needs a boot id and strace"))
    func aFailedSyncIsReportedAndItsStepsVerified() throws {
        let dir = TestSupport.temporaryDirectory("valence-inprocess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try Self.newRun(in: dir, steps: 3)
        try #require(try TestSupport.valence("step", ["--run", run, "-q"]).status == 0)  // steps 0 and 1, unsynced
        let boot = try #require(BootIdentity.current)

        let failed = try TestSupport.run("/usr/bin/env", ["strace", "-f", "-o", "/dev/null", "-e", "trace=syncfs",
                                                          "-e", "inject=syncfs:error=EIO",
                                                          "\(TestSupport.binDirectory)/valence-step", "--run", run, "-q"])
        #expect(failed.status == 74, "\(failed.stderr)")
        #expect(failed.stderr == "valence-step: error: \(run): syncfs failed: Input/output error\n", "\(failed.stderr)")
        #expect(try Self.record(run) == "", "the record names no boot any more")

        let r = try TestSupport.valence("step", ["--run", run, "--verbose"])
        try #require(r.status == 0, "\(r.stderr)")
        // The failed call took step 2 while its sync of steps 0-1 ran: all three are verified.
        for step in 0...2 { #expect(r.stderr.contains("eval: step \(step) is up to date"), "step \(step) is verified: \(r.stderr)") }
        #expect(r.stderr.contains("generate: step 2 part 1/2 is up to date"), "\(r.stderr)")
        #expect(try Self.record(run) == "synced 2\nboot \(boot)\n")
    }

    /// The three ways a call can find the steps after the last synced one, through the driver
    /// itself: written in its boot (synced, not verified), in another (verified, then synced), or
    /// with no boot id at all (verified; and the call ends with a sync instead of trusting a boot).
    @Test func theDriverTrustsOnlyItsOwnBoot() throws {
        let dir = TestSupport.temporaryDirectory("valence-inprocess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try Self.newRun(in: dir, steps: 4)
        let said = Said()
        func call(boot: String?) throws -> [String] {
            let driver = RunDriver(env: try StageEnvironment(run: run, log: { said.append($0) }),
                                   durability: .stepBarrier, boot: boot)
            try driver.advance(allSteps: false)
            return said.taken()
        }
        func verified(_ step: Int, _ lines: [String]) -> Bool { lines.contains("update: step \(step) is up to date") }

        _ = try call(boot: "a")  // steps 0 and 1
        #expect(try Self.record(run) == "boot a\n")
        var lines = try call(boot: "a")  // step 2
        #expect(!verified(1, lines), "\(lines)")
        #expect(try Self.record(run) == "synced 1\nboot a\n")
        lines = try call(boot: "b")  // another boot: step 2 verified; step 3
        #expect(verified(2, lines) && !verified(1, lines), "\(lines)")
        #expect(try Self.record(run) == "synced 2\nboot b\n")
        lines = try call(boot: nil)  // no boot id: step 3 verified; step 4, synced at the call's end
        #expect(verified(3, lines) && !verified(2, lines), "\(lines)")
        #expect(try Self.record(run) == "synced 4\n")
    }

    /// A `syncfs` failing in the middle of a call, as the kernel reports a write-back error: once,
    /// every later one succeeding. A group-commit barrier's failure stops the call (exit 74's error)
    /// with the record as it was before it, less its boot; the evals still in flight sync and record
    /// nothing after it. A background flush's failure does the same. Either way the next call
    /// verifies, and a driver sharing the failures refuses to record anything.
    @Test(arguments: ["barrier", "flush"])
    func aSyncFailingInTheMiddleOfACallIsNotOverridden(_ path: String) throws {
        let dir = TestSupport.temporaryDirectory("valence-inprocess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try Self.newRun(in: dir, steps: 6)
        let failing = FailOnce(atCall: 2, record: "\(run)/.synced")
        var syncing = RunDriver.Syncing()
        syncing.failures = SyncFailures()
        syncing.syncFileSystem = { try failing.sync($0) }
        if path == "barrier" {
            syncing.interval = 0  // a barrier after every step
            syncing.flushAfter = .infinity
        } else {
            syncing.interval = .infinity
            syncing.flushAfter = 0  // a background syncfs after every step
            syncing.flushInterval = 0
        }
        var driver = RunDriver(env: try StageEnvironment(run: run), durability: .stepBarrier, boot: "a")
        driver.syncing = syncing
        #expect(throws: ValenceError.self) { try driver.advance(allSteps: true) }
        let before = try #require(failing.recordAtFailure)
        #expect(before.hasSuffix("boot a\n"), "\(before)")
        #expect(try Self.record(run) == before.replacingOccurrences(of: "boot a\n", with: ""), "the record as before the failure, less its boot")
        #expect(failing.calls >= 2)

        // Another driver sharing the failures records nothing, and drops its run's boot too.
        let other = try Self.newRun(in: "\(dir)/other", steps: 2)
        var second = RunDriver(env: try StageEnvironment(run: other), durability: .stepBarrier, boot: "a")
        second.syncing.failures = syncing.failures
        #expect(throws: ValenceError.self) { try second.advance(allSteps: true) }
        #expect(!((try? Self.record(other)) ?? "").contains("boot"))

        // The next call (the failure behind it) verifies the steps after the last synced one.
        let said = Said()
        var next = RunDriver(env: try StageEnvironment(run: run, log: { said.append($0) }), durability: .stepBarrier, boot: "a")
        next.syncing.failures = SyncFailures()
        try next.advance(allSteps: false)
        let synced = DurabilityRecord(text: before).synced ?? -1
        #expect(said.taken().contains("eval: step \(synced + 1) is up to date"))
    }

    /// A `syncfs` that fails at its `atCall`-th call (counting every call), noting the run's record as
    /// it was then, and succeeds at every other.
    final class FailOnce: @unchecked Sendable {
        let atCall: Int, recordPath: String
        private let lock = NSLock()
        private(set) var calls = 0
        private(set) var recordAtFailure: String?
        init(atCall: Int, record: String) { self.atCall = atCall; recordPath = record }
        func sync(_ path: String) throws {
            let n = lock.withLock { calls += 1; return calls }
            if n == atCall {
                lock.withLock { recordAtFailure = (try? String(contentsOfFile: recordPath, encoding: .utf8)) ?? "" }
                throw ValenceError.io(path: path, detail: "syncfs failed: Input/output error (injected)")
            }
            try Durability.barrier(path)
        }
    }

    /// `DIR/run`, created with `steps` steps and the suite's other settings.
    static func newRun(in dir: String, steps: Int) throws -> String {
        let run = "\(dir)/run"
        let r = try TestSupport.valence("init", ["--run", run, "-q", "--steps", "\(steps)"] + flags.dropFirst(2))
        try #require(r.status == 0, "\(r.stderr)")
        return run
    }

    static func record(_ run: String) throws -> String {
        try String(contentsOfFile: "\(run)/.synced", encoding: .utf8)
    }

    /// Log lines gathered from the stages (the step thread's and the evals').
    final class Said: @unchecked Sendable {
        private var lines: [String] = []
        private let lock = NSLock()
        func append(_ line: String) { lock.withLock { lines.append(line) } }
        /// The lines so far, and a fresh start.
        func taken() -> [String] { lock.withLock { defer { lines = [] }; return lines } }
    }

    /// The eval of step N runs beside steps N+1 and N+2's stages. When it fails, the run stops with the eval's
    /// error (exit 65 naming the file), step N counts as not done, and once the input is repaired the
    /// next call ends byte-identical to a run never interrupted.
    @Test func aFailingEvalStopsTheRunAtItsStep() throws {
        let dir = TestSupport.temporaryDirectory("valence-inprocess")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reference = "\(dir)/reference", run = "\(dir)/run"
        let flags = ["-q", "--steps", "4"] + Self.flags.dropFirst(2)
        for r in [reference, run] { try #require(try TestSupport.valence("init", ["--run", r] + flags).status == 0) }
        try #require(try TestSupport.valence("step", ["--run", reference, "--all", "-q"]).status == 0)
        for _ in 0..<2 { try #require(try TestSupport.valence("step", ["--run", run, "-q"]).status == 0) }

        // Only eval reads the test prompts: damage them (same size, other bytes).
        let test = "\(run)/task/test.jsonl.zst"
        let good = try Data(contentsOf: URL(fileURLWithPath: test))
        var bad = good
        for i in bad.indices.dropFirst(20).prefix(64) { bad[i] ^= 0x5a }
        try bad.write(to: URL(fileURLWithPath: test))
        let failed = try TestSupport.valence("step", ["--run", run, "--all", "-q"])
        #expect(failed.status == 65, "\(failed.stderr)")
        #expect(failed.stderr.contains("test.jsonl.zst"), "the error names the damaged file: \(failed.stderr)")
        #expect(failed.stderr.split(separator: "\n").count == 1, "one line: \(failed.stderr)")
        let metrics = try String(contentsOfFile: "\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 3, "steps 0-2 evaluated, step 3 not")
        #expect(!FileManager.default.fileExists(atPath: "\(run)/\(RunLayout.evalManifest(3))"))
        // Step 4's stages ran beside step 3's eval; its eval, queued behind the failed one, did nothing.
        #expect(!FileManager.default.fileExists(atPath: "\(run)/\(RunLayout.evalManifest(4))"))

        try good.write(to: URL(fileURLWithPath: test))
        let r = try TestSupport.valence("step", ["--run", run, "--all", "-q"])
        try #require(r.status == 0, "\(r.stderr)")
        let a = try TestSupport.runFiles(reference), b = try TestSupport.runFiles(run)
        TestSupport.expectSameFiles(a, b)
    }
}
