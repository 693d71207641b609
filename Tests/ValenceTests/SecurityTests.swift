import Foundation
import Testing
@testable import Valence

#if canImport(Glibc)
import Glibc
#endif

/// docs/security.md, checked: paths from manifests confined to the run directory (refused before
/// anything outside is opened, which an inotify watch on the decoys proves), symbolic links
/// planted at every temporary and output name of every stage left untouched, the lock files and
/// directories stages create, the umask, the warning for a shared run directory, and the checks
/// `make slurm-run` makes before it submits anything.
@Suite struct SecurityTests {
    static let flags = ["--steps", "1", "--shards", "2", "--train", "60", "--test", "20", "--batch", "6",
                        "--group", "2", "--corpus", "200", "--digits", "2"]

    /// A run directory `run` beside a directory `outside` that no stage may touch.
    struct Sandbox {
        let dir: String
        var run: String { "\(dir)/run" }
        var outside: String { "\(dir)/outside" }

        init() throws {
            dir = TestSupport.temporaryDirectory("valence-security")
            try FileManager.default.createDirectory(atPath: "\(dir)/outside", withIntermediateDirectories: true)
        }

        func remove() {
            // Decoys are made unreadable; make them removable again first.
            _ = try? TestSupport.run("/bin/chmod", ["-R", "u+rwX", dir])
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// Runs the stages of `plan` ("init", or "NAME STEP") through the executables; each must succeed.
        func stages(_ plan: [String], run: String? = nil, flags: [String] = SecurityTests.flags) throws {
            let run = run ?? self.run
            for item in plan {
                let parts = item.split(separator: " ").map(String.init)
                let args = parts[0] == "init" ? ["--run", run, "-q"] + flags : ["--run", run, "--step", parts[1], "-q"]
                let r = try TestSupport.valence(parts[0], args)
                try #require(r.status == 0, "\(item): \(r.stderr)")
            }
        }
    }

    static let throughVerify = ["init", "eval 0", "generate 1", "verify 1"]
    static let wholeStep = ["init", "eval 0", "generate 1", "verify 1", "split 1", "weight 1", "update 1", "eval 1"]

    // MARK: Lexical rules

    @Test func relativePathRules() throws {
        for good in ["config.json", "steps/000001/split/positive/part-00000-of-00001.jsonl.zst", ".locks/x.lock", "a..b/c."] {
            #expect((try? RelativePath(validating: good)) != nil, "\(good)")
        }
        let bad: [(String, RelativePath.Problem)] = [
            ("", .empty), ("/etc/passwd", .absolute), ("../x", .dotComponent("..")),
            ("steps/../../x", .dotComponent("..")), ("steps/./x", .dotComponent(".")), (".", .dotComponent(".")),
            ("steps//x", .emptyComponent), ("steps/", .emptyComponent), ("a\nb", .controlCharacter), ("a\u{0}b", .controlCharacter),
        ]
        for (text, problem) in bad {
            #expect(throws: problem, "\(text.debugDescription)") { try RelativePath(validating: text) }
        }
    }

    // MARK: Paths from manifests

    /// An inotify watch: did anything open or read these paths after the watch began?
    final class OpenWatch {
        let fd: Int32

        init(_ paths: [String]) throws {
            fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            try #require(fd >= 0)
            for path in paths {
                try #require(inotify_add_watch(fd, path, UInt32(IN_OPEN | IN_ACCESS)) >= 0, "watch \(path)")
            }
        }

        var touched: Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            return read(fd, &buffer, buffer.count) > 0
        }

        deinit { close(fd) }
    }

    /// verify's manifest edited to list `listed` (a decoy outside the run: a valid copy of the real
    /// shard, made unreadable); split must refuse it naming the manifest and the field, exit 65,
    /// with nothing outside the run opened and no output written.
    func expectRefusedManifestPath(_ name: String, _ setUp: (Sandbox, _ shard: String, _ decoy: String) throws -> String) throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.stages(Self.throughVerify)
        let manifest = RunLayout.partManifest(step: 1, "verified", shard: 0, shards: 2)
        let shard = RunLayout.shard(step: 1, "verified", shard: 0, shards: 2)
        let decoy = "\(box.outside)/decoy.jsonl.zst"
        try FileManager.default.copyItem(atPath: "\(box.run)/\(shard)", toPath: decoy)
        let listed = try setUp(box, shard, decoy)
        let text = try String(contentsOfFile: "\(box.run)/\(manifest)", encoding: .utf8)
        try #require(text.contains("\"\(shard)\""))
        try text.replacingOccurrences(of: "\"\(shard)\"", with: JSONValue.string(listed).prettyText())
            .write(toFile: "\(box.run)/\(manifest)", atomically: true, encoding: .utf8)
        let watch = try OpenWatch([decoy, box.outside])  // before chmod: inotify needs read access
        chmod(decoy, 0)

        let r = try TestSupport.valence("split", ["--run", box.run, "--step", "1", "--shard", "0"])
        #expect(r.status == 65, "\(name): \(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(name): one line: \(r.stderr)")
        #expect(r.stderr.contains("\(box.run)/\(manifest): field \"outputs[0].path\""), "\(name): \(r.stderr)")
        #expect(!watch.touched, "\(name): something outside the run directory was opened")
        #expect(!FileManager.default.fileExists(atPath: "\(box.run)/\(RunLayout.partManifest(step: 1, "split", shard: 0, shards: 2))"))
        #expect(!FileManager.default.fileExists(atPath: "\(box.run)/\(RunLayout.shard(step: 1, "split/positive", shard: 0, shards: 2))"))
    }

    @Test func manifestWithAnAbsolutePathIsRefused() throws {
        try expectRefusedManifestPath("absolute") { _, _, decoy in decoy }
    }

    @Test func manifestWithDotDotIsRefused() throws {
        try expectRefusedManifestPath("..") { _, _, _ in "../outside/decoy.jsonl.zst" }
        // Even a `..` that would come back inside: a manifest Valence writes never has one.
        try expectRefusedManifestPath("inner ..") { _, shard, _ in "steps/000001/../000001/verified/" + FileSystem.baseName(shard) }
        try expectRefusedManifestPath("deep ..") { _, _, _ in "steps/000001/verified/../../../../outside/decoy.jsonl.zst" }
    }

    @Test func manifestPathThroughASymlinkOutOfTheRunIsRefused() throws {
        // The listed file itself is a link to the decoy.
        try expectRefusedManifestPath("file link") { box, shard, decoy in
            try FileManager.default.removeItem(atPath: "\(box.run)/\(shard)")
            try FileManager.default.createSymbolicLink(atPath: "\(box.run)/\(shard)", withDestinationPath: decoy)
            return shard
        }
        // A directory on the way is a link out of the run.
        try expectRefusedManifestPath("directory link") { box, _, _ in
            try FileManager.default.createSymbolicLink(atPath: "\(box.run)/steps/000001/elsewhere", withDestinationPath: box.outside)
            return "steps/000001/elsewhere/decoy.jsonl.zst"
        }
        // A dangling link: refused too (nothing can be read through it, and a write must not create its target).
        try expectRefusedManifestPath("dangling link") { box, shard, _ in
            try FileManager.default.removeItem(atPath: "\(box.run)/\(shard)")
            try FileManager.default.createSymbolicLink(atPath: "\(box.run)/\(shard)", withDestinationPath: "\(box.outside)/missing")
            return shard
        }
    }

    /// A link that stays inside the run is followed: confinement is about where a path leads.
    @Test func symlinkInsideTheRunIsAccepted() throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.stages(Self.throughVerify)
        let shard = RunLayout.shard(step: 1, "verified", shard: 0, shards: 2)
        let moved = "\(box.run)/steps/000001/verified/moved.jsonl.zst"
        try FileManager.default.moveItem(atPath: "\(box.run)/\(shard)", toPath: moved)
        try FileManager.default.createSymbolicLink(atPath: "\(box.run)/\(shard)", withDestinationPath: "moved.jsonl.zst")
        let r = try TestSupport.valence("split", ["--run", box.run, "--step", "1", "--shard", "0", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func manifestReadRefusesPathsUnderARegisteredRun() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let layout = RunLayout(root: box.run)
        try FileManager.default.createDirectory(atPath: "\(box.run)/steps", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(box.run)/steps/out", withDestinationPath: box.outside)
        func manifest(_ path: String) throws -> String {
            let m = Manifest(stage: "verify", run: Identifier(1), step: 1, shard: nil, shards: nil, inputs: 2,
                             outputs: [.init(path: "task/x.jsonl.zst", schema: "s", records: 0, bytes: 0, digest: 0),
                                       .init(path: path, schema: "s", records: 0, bytes: 0, digest: 0)])
            let file = layout.path("steps/m.json")
            try FileSystem.writeAtomically(file, text: m.json.prettyText())
            return file
        }
        #expect(try Manifest.read(try manifest("steps/000001/verified/ok.jsonl.zst")).outputs.count == 2)
        for (path, says) in [("steps/out/x.jsonl.zst", "outside the run directory"), ("/abs", "is absolute"), ("a/../b", "\"..\"")] {
            let file = try manifest(path)
            do {
                _ = try Manifest.read(file)
                Issue.record("\(path) accepted")
            } catch let error as ValenceError {
                #expect(error.exitCode == 65)
                #expect("\(error)".hasPrefix("\(file): field \"outputs[1].path\""), "\(error)")
                #expect("\(error)".contains(says), "\(error)")
            }
        }
    }

    // MARK: Writes

    /// The files a finished run holds, relative to its root (lock files aside).
    func files(_ root: String) throws -> [String] {
        let all = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
        return all.filter { rel in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(root)/\(rel)", isDirectory: &isDir) && !isDir.boolValue
                && !rel.hasPrefix(".lock")
        }.sorted()
    }

    /// The stage that writes a file, by where it is (for planting links at final names just before it runs).
    static func writer(of rel: String) -> String {
        if rel.hasPrefix("steps/000001/") {
            let dir = rel.split(separator: "/")[2]
            return ["rollouts": "generate 1", "verified": "verify 1", "split": "split 1", "weighted": "weight 1",
                    "checkpoint": "update 1", "eval": "eval 1"][String(dir)] ?? "?"
        }
        return rel.hasPrefix("steps/000000/eval/") || rel == "metrics.jsonl" ? "eval 0" : "init"
    }

    /// A symbolic link planted at the temporary name of every file a step writes (init, eval,
    /// generate, verify, split, weight, update, manifests, metrics.jsonl), half to a file outside the
    /// run and half dangling into it, and at each final shard and manifest name just before the
    /// stage that writes it: every stage still completes, its files come out byte-identical to a
    /// run without links, as regular files, and nothing outside changes or appears.
    @Test func symlinksPlantedAtEveryTemporaryNameAreNeverFollowed() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let reference = "\(box.dir)/reference"
        try box.stages(Self.wholeStep, run: reference, flags: Self.flags + ["--objective", "ppo"])
        let written = try files(reference)
        try #require(written.contains("metrics.jsonl") && written.contains("config.json")
                     && written.contains(RunLayout.critic(1)) && written.count > 30, "\(written)")

        let victim = "\(box.outside)/victim"
        let original = Data("not yours to write\n".utf8)
        try original.write(to: URL(fileURLWithPath: victim))
        var dangling: [String] = []
        for (i, rel) in written.enumerated() {
            let dir = FileSystem.directoryName("\(box.run)/\(rel)")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let target = i % 2 == 0 ? victim : "\(box.outside)/dangling-\(i)"
            if target != victim { dangling.append(target) }
            try FileManager.default.createSymbolicLink(atPath: FileSystem.temporaryName(for: "\(box.run)/\(rel)"),
                                                       withDestinationPath: target)
        }
        for stage in Self.wholeStep {
            // Final names too, for shards and manifests the stage is about to write (a stage reads
            // config.json and metrics.jsonl before replacing them, so a link there is refused instead).
            for rel in written where Self.writer(of: rel) == stage && rel.hasPrefix("steps/") {
                try FileManager.default.createSymbolicLink(atPath: "\(box.run)/\(rel)", withDestinationPath: victim)
            }
            try box.stages([stage], flags: Self.flags + ["--objective", "ppo"])
        }

        #expect(try Data(contentsOf: URL(fileURLWithPath: victim)) == original, "the link's target was written")
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.outside) == ["victim"], "a dangling link's target was created")
        for rel in written {
            let path = "\(box.run)/\(rel)"
            let type = try FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType
            #expect(type == .typeRegular, "\(rel) is not a regular file")
            #expect(FileManager.default.contentsEqual(atPath: path, andPath: "\(reference)/\(rel)"), "\(rel) differs")
        }
    }

    @Test func directoryLinkOutOfTheRunIsNeverWrittenThrough() throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.stages(Self.throughVerify)
        try FileManager.default.createSymbolicLink(atPath: "\(box.run)/steps/000001/split", withDestinationPath: box.outside)
        let r = try TestSupport.valence("split", ["--run", box.run, "--step", "1"])
        #expect(r.status == 65, "\(r.stderr)")
        #expect(r.stderr.contains("outside the run directory"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.outside).isEmpty, "written through the link")
    }

    @Test func lockFileLinkIsRefusedNotFollowed() throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.stages(Self.throughVerify)
        let lock = "\(box.run)/\(RunLayout.lock(forManifest: RunLayout.partManifest(step: 1, "split", shard: 0, shards: 2)))"
        try FileManager.default.createSymbolicLink(atPath: lock, withDestinationPath: "\(box.outside)/lock")
        let r = try TestSupport.valence("split", ["--run", box.run, "--step", "1", "--shard", "0"])
        #expect(r.status == 65, "\(r.stderr)")
        #expect(r.stderr.contains("\(lock): is a symbolic link"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(box.outside)/lock"), "the link's target was created")
    }

    @Test func leftoverTemporaryFileIsReplacedNotAppendedTo() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let path = "\(RunLayout(root: box.run).root)/steps/x.json"
        try FileManager.default.createDirectory(atPath: "\(box.run)/steps", withIntermediateDirectories: true)
        try Data(repeating: 0x41, count: 10_000).write(to: URL(fileURLWithPath: FileSystem.temporaryName(for: path)))
        try FileSystem.writeAtomically(path, text: "new\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
        #expect(!FileManager.default.fileExists(atPath: FileSystem.temporaryName(for: path)))
    }

    @Test func appendingRefusesALinkAndAppendsToAFile() throws {
        let box = try Sandbox()
        defer { box.remove() }
        let path = "\(RunLayout(root: box.run).root)/log.jsonl"
        let victim = "\(box.outside)/victim"
        try Data("keep\n".utf8).write(to: URL(fileURLWithPath: victim))
        try FileManager.default.createDirectory(atPath: box.run, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: victim)
        #expect(throws: ValenceError.badData(path: path, line: nil, detail: "is a symbolic link; Valence never follows a link where it writes (remove it)")) {
            _ = try FileSystem.openForAppending(path)
        }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep\n")
        try FileManager.default.removeItem(atPath: path)
        for line in ["a\n", "b\n"] {
            let file = try FileSystem.openForAppending(path)
            try file.write(Array(line.utf8))
            try file.close()
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "a\nb\n")
    }

    /// New files and directories get what the umask leaves of 0666 and 0777, not a fixed mode.
    @Test func filesAreCreatedWithTheUsersUmask() throws {
        let box = try Sandbox()
        defer { box.remove() }
        for (mask, file, dir) in [("027", 0o640, 0o750), ("002", 0o664, 0o775)] {
            let run = "\(box.dir)/run-\(mask)"
            let r = try TestSupport.run("/bin/sh", ["-c", "umask \(mask) && exec \"$0\" \"$@\"",
                                                    "\(TestSupport.binDirectory)/valence-init", "--run", run, "-q"] + Self.flags)
            try #require(r.status == 0, "\(r.stderr)")
            for (rel, mode) in [("config.json", file), (RunLayout.policy(0), file), ("task", dir), (RunLayout.checkpoint(0), dir)] {
                let attributes = try FileManager.default.attributesOfItem(atPath: "\(run)/\(rel)")
                #expect((attributes[.posixPermissions] as? Int) == mode, "umask \(mask): \(rel)")
            }
        }
    }

    // MARK: Shared run directories

    @Test func stageWarnsOnceWhenOthersCanWriteTheRun() throws {
        let box = try Sandbox()
        defer { box.remove() }
        try box.stages(Self.throughVerify)
        let quiet = try TestSupport.valence("split", ["--run", box.run, "--step", "1", "--jobs", "2", "-q"])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        chmod(box.run, 0o757)
        let r = try TestSupport.valence("weight", ["--run", box.run, "--step", "1", "--jobs", "2", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        let warnings = r.stderr.split(separator: "\n").filter { $0.contains("warning") }
        #expect(warnings.count == 1, "\(r.stderr)")
        #expect(warnings.first?.contains("\(box.run) is writable by every user (mode 0757)") == true, "\(r.stderr)")
    }

    // MARK: make slurm-run

    /// A run directory (or RUN/.slurm) others can write is refused before anything is written or
    /// submitted, with exit 77 and one line.
    @Test func slurmRunRefusesADirectoryOthersCanWrite() throws {
        let fake = try SlurmSubmissionTests.FakeSlurm()
        let box = try Sandbox()
        defer { box.remove(); try? FileManager.default.removeItem(atPath: fake.directory) }
        var cases: [(String, (String) throws -> Void, String)] = [
            ("world-writable run", { chmod($0, 0o777) }, "is writable by every user (mode 0777)"),
            ("world-writable .slurm", { run in
                try FileManager.default.createDirectory(atPath: "\(run)/.slurm", withIntermediateDirectories: true)
                chmod("\(run)/.slurm", 0o757)
            }, "/.slurm is writable by every user"),
            (".slurm a link", { run in
                try FileManager.default.createSymbolicLink(atPath: "\(run)/.slurm", withDestinationPath: box.outside)
            }, "/.slurm is a symbolic link"),
        ]
        // A group write bit counts when the group is not the user's own private group: as root,
        // hand the directory to nogroup; otherwise only if the user's group is a shared one.
        if getuid() == 0 {
            cases.append(("group-writable run", { run in
                chown(run, 0, 65534)
                chmod(run, 0o775)
            }, "is writable by group"))
        }
        for (i, (name, setUp, says)) in cases.enumerated() {
            let run = "\(box.dir)/run\(i)"
            try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
            try setUp(run)
            let r = try TestSupport.run(SlurmSubmissionTests.submit, [run] + SlurmSubmissionTests.small, environment: fake.environment)
            #expect(r.status == 77, "\(name): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(says), "\(name): \(r.stderr)")
            #expect(try fake.calls().isEmpty, "\(name): submitted")
            #expect(!FileManager.default.fileExists(atPath: "\(run)/config.json"), "\(name): initialised")
            #expect(!FileManager.default.fileExists(atPath: "\(run)/.slurm/bin"), "\(name): staged")
        }

        // Through make, as a user runs it: make reports the script's status.
        let run = "\(box.dir)/by-make"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        chmod(run, 0o777)
        let r = try TestSupport.run("/usr/bin/env", ["make", "--no-print-directory", "CONFIG=debug", "NO_BUILD=1", "slurm-run", "RUN=\(run)"],
                                    cwd: TestSupport.repoRoot, environment: fake.environment)
        #expect(r.status != 0)
        #expect(r.stderr.contains("valence-slurm: \(run) is writable by every user") && r.stderr.contains("Error 77"), "\(r.stderr)")
        #expect(try fake.calls().isEmpty)
    }

    /// A submission that goes through stages read-only binaries into directories only the owner can write.
    @Test func slurmRunStagesBinariesReadOnly() throws {
        let fake = try SlurmSubmissionTests.FakeSlurm()
        let box = try Sandbox()
        defer { box.remove(); try? FileManager.default.removeItem(atPath: fake.directory) }
        let r = try TestSupport.run("/bin/sh", ["-c", "umask 002 && exec \"$0\" \"$@\"", SlurmSubmissionTests.submit, box.run]
                                    + SlurmSubmissionTests.small, environment: fake.environment)
        try #require(r.status == 0, "\(r.stderr)")
        #expect(try fake.calls().count == 5)
        for dir in [box.run, "\(box.run)/.slurm", "\(box.run)/.slurm/bin", "\(box.run)/.slurm/logs"] {
            let mode = try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int ?? -1
            #expect(mode & 0o022 == 0, "\(dir): mode \(String(mode, radix: 8))")
        }
        let staged = try FileManager.default.contentsOfDirectory(atPath: "\(box.run)/.slurm/bin")
        #expect(staged.contains("valence-generate"))
        for name in staged {
            let mode = try FileManager.default.attributesOfItem(atPath: "\(box.run)/.slurm/bin/\(name)")[.posixPermissions] as? Int
            #expect(mode == 0o555, "\(name)")
        }
    }
}
