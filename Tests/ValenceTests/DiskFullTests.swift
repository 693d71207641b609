import Foundation
import Testing
@testable import Valence

/// A stage whose write fails on a full (ENOSPC) or read-only (EROFS) file system exits 74 with one
/// line naming the output and the cause, leaves no temporary or partial file, and once space is
/// freed the rerun finishes the run byte-identical to one that never failed.
///
/// Runs one small step stage by stage on a tmpfs this test mounts itself (root only; skipped with a
/// message otherwise), filling it before chosen stages so that the failure hits a shard, a
/// manifest, the policy checkpoint and metrics.jsonl in turn, and remounting it read-only once.
@Suite(.serialized) struct DiskFullTests {
    static let initFlags = ["--digits", "2", "--train", "200", "--test", "100", "--batch", "16", "--corpus", "2000",
                            "--steps", "1", "-q"]
    static let stages: [(String, Int)] = [("eval", 0), ("generate", 1), ("verify", 1), ("split", 1), ("weight", 1),
                                          ("update", 1), ("eval", 1)]
    static let page = 4096

    @discardableResult
    static func sh(_ command: String) throws -> TestSupport.Result {
        try TestSupport.run("/bin/sh", ["-c", command])
    }

    static func stage(_ name: String, _ step: Int, run: String) throws -> TestSupport.Result {
        try TestSupport.valence(name, ["--run", run, "--step", String(step), "-q"])
    }

    /// Every regular file below `root` by relative path, without lock files.
    static func files(_ root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return out }
        for case let rel as String in walker {
            if rel.hasPrefix(".locks") || rel == ".lock" { continue }
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(root)/\(rel)", isDirectory: &isDir), !isDir.boolValue {
                out[rel] = FileManager.default.contents(atPath: "\(root)/\(rel)")
            }
        }
        return out
    }

    /// Fills the file system at `mount` so that `pages` 4 KiB pages stay free.
    static func fill(_ mount: String, leavingPages pages: Int) throws {
        try sh("dd if=/dev/zero of=\(mount)/filler bs=4096 2>/dev/null")
        if pages > 0 { try sh("truncate -s -\(pages * page) \(mount)/filler") }
    }

    static func pages(_ bytes: Int) -> Int { (bytes + page - 1) / page }

    /// Runs `body` with a scratch directory and a 4 MiB tmpfs mounted at `dir/mnt` (root only;
    /// skipped with a message otherwise), unmounted and removed afterwards.
    static func withSmallDisk(_ body: (_ dir: String, _ mount: String) throws -> Void) throws {
        guard getuid() == 0 else {
            print("DiskFullTests: skipped: mounting a tmpfs needs root")
            return
        }
        let dir = TestSupport.temporaryDirectory("valence-diskfull")
        let mount = "\(dir)/mnt"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        guard try Self.sh("mount -t tmpfs -o size=4m tmpfs \(mount)").status == 0 else {
            print("DiskFullTests: skipped: could not mount a tmpfs at \(mount)")
            try? FileManager.default.removeItem(atPath: dir)
            return
        }
        defer {
            _ = try? Self.sh("umount \(mount)")
            try? FileManager.default.removeItem(atPath: dir)
        }
        try body(dir, mount)
    }

    @Test func fullAndReadOnlyDisksFailCleanlyAndTheRerunIsByteIdentical() throws {
        try Self.withSmallDisk { dir, mount in
            // The reference: the same step on the ordinary disk, never interrupted.
            let reference = "\(dir)/reference"
            try #require(try TestSupport.valence("init", ["--run", reference] + Self.initFlags).status == 0)
            for (name, step) in Self.stages { try #require(try Self.stage(name, step, run: reference).status == 0, "\(name) \(step)") }
            let want = Self.files(reference)
            func size(_ rel: String) -> Int { want[rel]?.count ?? 0 }
            let s1 = "steps/000001"

            // Before these stages, leave this many pages free (or remount read-only); the failure must
            // name this file and cause.
            enum Fault { case full(pages: Int), readOnly }
            let faults: [String: (Fault, String, String)] = [
                "generate 1": (.full(pages: 0), "\(s1)/rollouts/part-00000-of-00001.jsonl.zst", "ENOSPC"),
                "verify 1": (.full(pages: Self.pages(size("\(s1)/verified/part-00000-of-00001.jsonl.zst"))),
                             "\(s1)/verified/part-00000-of-00001.manifest.json", "ENOSPC"),
                "split 1": (.readOnly, "", "EROFS"),
                "update 1": (.full(pages: 0), "\(s1)/checkpoint/policy.jsonl.zst", "ENOSPC"),
                // The step's lines fit the page metrics.jsonl already has, so its append goes through and
                // the manifest after it fails: the rerun finds the lines already appended (never doubled).
                "eval 1": (.full(pages: Self.pages(size("\(s1)/eval/metrics.jsonl"))), "\(s1)/eval/MANIFEST.json", "ENOSPC"),
            ]

            let run = "\(mount)/run"
            try #require(try TestSupport.valence("init", ["--run", run] + Self.initFlags).status == 0)
            var named: [String] = []
            for (name, step) in Self.stages {
                let key = "\(name) \(step)"
                if let (fault, file, cause) = faults[key] {
                    switch fault {
                    case .full(let pages): try Self.fill(mount, leavingPages: pages)
                    case .readOnly: try #require(try Self.sh("mount -o remount,ro \(mount)").status == 0)
                    }
                    let r = try Self.stage(name, step, run: run)
                    let lines = r.stderr.split(separator: "\n")
                    #expect(r.status == 74, "\(key): \(r.stderr)")
                    #expect(lines.count == 1, "\(key): \(r.stderr)")
                    #expect(r.stderr.hasPrefix("valence-\(name): error: \(run)/"), "\(key): \(r.stderr)")
                    #expect(r.stderr.contains(cause), "\(key): \(r.stderr)")
                    if !file.isEmpty { #expect(r.stderr.contains("\(run)/\(file):"), "\(key): \(r.stderr)") }
                    named.append(String(lines.first ?? ""))
                    // No temporary file, and every file there is complete: the reference's bytes.
                    for (rel, bytes) in Self.files(run) {
                        #expect(!rel.hasSuffix(".tmp"), "\(key): left \(rel)")
                        if rel != "metrics.jsonl" { #expect(bytes == want[rel], "\(key): \(rel) differs from the reference") }
                    }
                    switch fault {
                    case .full: try Self.sh("rm -f \(mount)/filler")
                    case .readOnly: try #require(try Self.sh("mount -o remount,rw \(mount)").status == 0)
                    }
                }
                let r = try Self.stage(name, step, run: run)
                try #require(r.status == 0, "\(key) after freeing space: \(r.stderr)")
            }
            #expect(named.count == faults.count)
            let got = Self.files(run)
            #expect(got.keys.sorted() == want.keys.sorted())
            for (rel, bytes) in want { #expect(got[rel] == bytes, "\(rel) differs after the reruns") }
            print("DiskFullTests: failures named:\n" + named.joined(separator: "\n"))
        }
    }

    /// The same in one process (`valence-step --all`), where the eval of a step runs beside the
    /// next step's stages and update's optimizer state is finished while the next step starts: at
    /// whatever write the disk fills up, the run stops with exit 74 and one line naming a file,
    /// leaves no temporary file, and every file it leaves is the reference's; freed, the next call
    /// ends byte-identical.
    @Test func inProcessRunsFailCleanlyWhereverTheDiskFillsUp() throws {
        try Self.withSmallDisk { dir, mount in
            let flags = Self.initFlags.filter { $0 != "1" && $0 != "--steps" } + ["--steps", "3"]
            let reference = "\(dir)/reference"
            try #require(try TestSupport.valence("init", ["--run", reference] + flags).status == 0)
            try #require(try TestSupport.valence("step", ["--run", reference, "--all", "-q"]).status == 0)
            let want = Self.files(reference)
            var failures = 0
            for pages in [0, 6, 12, 18, 24, 36, 48, 64] {
                let run = "\(mount)/run-\(pages)"
                try #require(try TestSupport.valence("init", ["--run", run] + flags).status == 0)
                try Self.fill(mount, leavingPages: pages)
                let r = try TestSupport.valence("step", ["--run", run, "--all", "-q"])
                #expect(r.status == 74 || r.status == 0, "\(pages) pages: \(r.stderr)")
                if r.status == 74 {
                    failures += 1
                    print("DiskFullTests (in-process): \(pages) pages free: \(r.stderr)", terminator: "")
                    #expect(r.stderr.split(separator: "\n").count == 1, "\(pages) pages: \(r.stderr)")
                    #expect(r.stderr.hasPrefix("valence-step: error: \(run)/") && r.stderr.contains("ENOSPC"), "\(pages) pages: \(r.stderr)")
                    for (rel, bytes) in Self.files(run) {
                        #expect(!rel.hasSuffix(".tmp"), "\(pages) pages: left \(rel)")
                        if rel != "metrics.jsonl" && rel != ".synced" { #expect(bytes == want[rel], "\(pages) pages: \(rel) differs from the reference") }
                    }
                }
                try Self.sh("rm -f \(mount)/filler")
                let again = try TestSupport.valence("step", ["--run", run, "--all", "-q"])
                try #require(again.status == 0, "\(pages) pages, after freeing space: \(again.stderr)")
                let got = Self.files(run).filter { $0.key != ".synced" }
                #expect(got.keys.sorted() == want.keys.filter { $0 != ".synced" }.sorted(), "\(pages) pages")
                for (rel, bytes) in want where rel != ".synced" { #expect(got[rel] == bytes, "\(pages) pages: \(rel) differs after the rerun") }
                try Self.sh("rm -rf \(run)")
            }
            #expect(failures >= 4, "the disk filled up within the run at most levels")
        }
    }

    @Test func errnoTextSaysWhatToDoForFullAndReadOnlyDisks() {
        #expect(FileSystem.errnoText(ENOSPC).contains("ENOSPC: free space"))
        #expect(FileSystem.errnoText(EDQUOT).contains("EDQUOT"))
        #expect(FileSystem.errnoText(EROFS).contains("EROFS: remount"))
        #expect(FileSystem.errnoText(ENOENT) == String(cString: strerror(ENOENT)))
    }
}
