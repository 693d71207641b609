import Foundation
import Testing

/// The Slurm job graph `pipelines/slurm/submit.sh` builds, checked against stand-in `sbatch` and
/// `squeue` commands that record what they are asked (no cluster needed; `make test-slurm` runs the
/// real one), and the run comparison `same-run.sh` that the Slurm test relies on.
@Suite struct SlurmSubmissionTests {
    /// A directory with fake `sbatch` (appends its arguments, tab-separated, to `sbatch.log` and
    /// prints the next job id) and `squeue` (prints `squeue.txt` if present).
    struct FakeSlurm {
        let directory: String
        var log: String { "\(directory)/sbatch.log" }
        var queue: String { "\(directory)/squeue.txt" }

        init() throws {
            directory = TestSupport.temporaryDirectory("valence-fake-slurm")
            let sbatch = """
                #!/bin/bash
                here=$(dirname "$0")
                n=$(( $(cat "$here/next" 2>/dev/null || echo 0) + 1 ))
                echo "$n" >"$here/next"
                (IFS=$'\\t'; echo "$*") >>"$here/sbatch.log"
                echo "$n"
                """
            let squeue = "#!/bin/bash\ncat \"$(dirname \"$0\")/squeue.txt\" 2>/dev/null || true\n"
            for (name, text) in [("sbatch", sbatch), ("squeue", squeue)] {
                let path = "\(directory)/\(name)"
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            }
        }

        /// One entry per sbatch call, each the list of its arguments.
        func calls() throws -> [[String]] {
            guard FileManager.default.fileExists(atPath: log) else { return [] }
            return try String(contentsOfFile: log, encoding: .utf8)
                .split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        }

        var environment: [String: String] {
            ["PATH": "\(directory):" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
             "VALENCE_BIN": TestSupport.binDirectory, "VALENCE_SBATCH": "", "VALENCE_SLURM_MODE": "shard"]
        }
    }

    static let submit = "\(TestSupport.repoRoot)/pipelines/slurm/submit.sh"
    static let small = ["--steps", "2", "--shards", "3", "--train", "60", "--test", "20", "--batch", "6",
                        "--group", "2", "--corpus", "200", "--digits", "2"]

    func option(_ call: [String], _ name: String) -> String? {
        call.first { $0.hasPrefix("--\(name)=") }.map { String($0.dropFirst(name.count + 3)) }
    }

    @Test func submitsOneArrayPerStepChainedByAfterok() throws {
        let fake = try FakeSlurm()
        let dir = TestSupport.temporaryDirectory("valence-slurm-run")
        defer { for d in [dir, fake.directory] { try? FileManager.default.removeItem(atPath: d) } }
        let run = dir + "/run"
        let r = try TestSupport.run(Self.submit, [run] + Self.small, environment: fake.environment)
        #expect(r.status == 0, "\(r.stderr)")
        let calls = try fake.calls()
        try #require(calls.count == 5, "eval 0, then an array and an update per step: \(calls)")

        let names = calls.map { option($0, "job-name") ?? "" }
        #expect(names.map { $0.split(separator: ".").suffix(2).joined(separator: ".") } ==
                ["s000000.eval", "s000001.shards", "s000001.update", "s000002.shards", "s000002.update"])
        #expect(option(calls[0], "dependency") == nil)
        #expect(option(calls[1], "dependency") == "afterok:1")
        #expect(option(calls[2], "dependency") == "afterok:2")
        #expect(option(calls[3], "dependency") == "afterok:3")
        #expect(option(calls[4], "dependency") == "afterok:4")
        #expect(option(calls[1], "array") == "0-2" && option(calls[3], "array") == "0-2")
        #expect(option(calls[2], "array") == nil)
        let staged = URL(fileURLWithPath: run).standardizedFileURL.path + "/.slurm/bin"
        for (i, call) in calls.enumerated() {
            #expect(call.contains("--export=NONE"), "jobs must not depend on the submitter's environment")
            #expect(i == 0 || call.contains("--kill-on-invalid-dep=yes"), "a failed job must cancel the chain")
            // The script by absolute path, then BIN (the staged copy) and RUN by absolute path, then the step.
            let script = try #require(call.firstIndex { $0.hasSuffix(".sh") })
            #expect(call[script].hasPrefix("/"))
            #expect(call[script].hasSuffix(i == 0 || i % 2 == 0 ? "/update-eval.sh" : "/shards.sh"))
            #expect(Array(call[(script + 3)...]) == [String(i == 0 ? 0 : (i + 1) / 2)])
            #expect(call[script + 1] == staged)
        }
        // The staged binaries run on their own.
        let status = try TestSupport.run("\(staged)/valence-status", ["--run", run, "--next"])
        #expect(status.status == 0 && status.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func refusesARunWithJobsQueuedAndIgnoresOtherRuns() throws {
        let fake = try FakeSlurm()
        let dir = TestSupport.temporaryDirectory("valence-slurm-run")
        defer { for d in [dir, fake.directory] { try? FileManager.default.removeItem(atPath: d) } }
        let run = dir + "/run"
        let abs = URL(fileURLWithPath: run).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let prefix = try TestSupport.run("/bin/bash", ["-c", "source \"$1\"; slurm_job_prefix \"$2\"", "_",
                                                       "\(TestSupport.repoRoot)/pipelines/slurm/lib.sh", abs]).stdout
        #expect(prefix.hasPrefix("valence.run."))

        try "7 PENDING \(prefix)s000001.update Dependency\n".write(toFile: fake.queue, atomically: true, encoding: .utf8)
        let busy = try TestSupport.run(Self.submit, [run] + Self.small, environment: fake.environment)
        #expect(busy.status == 75, "\(busy.stderr)")
        #expect(busy.stderr.contains("already has 1 jobs queued"))
        #expect(try fake.calls().isEmpty)

        try "7 PENDING valence.run.12345.s000001.update Dependency\n".write(toFile: fake.queue, atomically: true, encoding: .utf8)
        let other = try TestSupport.run(Self.submit, [run] + Self.small, environment: fake.environment)
        #expect(other.status == 0, "another run's jobs must not block this one: \(other.stderr)")
        #expect(try fake.calls().count == 5)
    }

    @Test func sameRunAcceptsAnyShardCountAndCatchesAChangedRecord() throws {
        let dir = TestSupport.temporaryDirectory("valence-same-run")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runScript = "\(TestSupport.repoRoot)/pipelines/run.sh"
        let env = ["VALENCE_BIN": TestSupport.binDirectory, "QUIET": "1"]
        var flags = Self.small
        flags[1] = "1"   // one step
        for (name, shards) in [("one", "1"), ("three", "3")] {
            var f = flags
            f[3] = shards
            let r = try TestSupport.run(runScript, ["\(dir)/\(name)"] + f, environment: env)
            try #require(r.status == 0, "\(r.stderr)")
        }
        let same = "\(TestSupport.repoRoot)/pipelines/slurm/same-run.sh"
        let ok = try TestSupport.run(same, ["\(dir)/one", "\(dir)/three"])
        #expect(ok.status == 0, "\(ok.stderr)")

        // Change one log-probability in the middle shard's rollouts: the concatenated records differ.
        let part = "\(dir)/three/steps/000001/rollouts/part-00001-of-00003.jsonl.zst"
        let tamper = try TestSupport.run("/bin/bash", ["-c",
            "zstd -dcq \"$1\" | sed '1s/\"logp\":\\[-/\"logp\":[-9/' | zstd -qf -o \"$1.new\" && mv -f \"$1.new\" \"$1\"", "_", part])
        try #require(tamper.status == 0, "\(tamper.stderr)")
        let bad = try TestSupport.run(same, ["\(dir)/one", "\(dir)/three"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("steps/000001/rollouts: the records differ"))
    }
}
