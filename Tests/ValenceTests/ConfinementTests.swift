import Foundation
import Testing
@testable import Valence

#if canImport(Glibc)
import Glibc
#endif

/// `Confinement` judged path by path (docs/security.md, "Paths from manifests are confined" and
/// "What it costs"): the walk below a pinned root gives, in every case, the verdict (and so the
/// message) of a full `realpath` of the path, which it replaced on the common path only: symbolic
/// links inside and out of the run, dangling ones, loops, `.`, `..` and empty components, missing
/// components, a root reached through a link, a root re-pointed or recreated after it was resolved,
/// more roots than the registry holds open, and paths under no root.
@Suite struct ConfinementTests {
    /// `dir/real/run`, registered as `dir/via/run` (`via -> real`: the root is reached through a
    /// link), beside `dir/outside` which no path under the run may lead to.
    struct Tree {
        let dir: String
        /// The real path of `dir` (the temporary directory may itself be reached through a link).
        let realDir: String
        var root: String { "\(dir)/via/run" }
        var realRoot: String { "\(realDir)/real/run" }

        init() throws {
            dir = TestSupport.temporaryDirectory("valence-confinement")
            realDir = try #require(Confinement.realPath(dir))
            let fm = FileManager.default
            let verified = "\(dir)/real/run/steps/000001/verified"
            try fm.createDirectory(atPath: verified, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: "\(dir)/outside/sub", withIntermediateDirectories: true)
            try Data("decoy".utf8).write(to: URL(fileURLWithPath: "\(dir)/outside/decoy"))
            try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(dir)/real/run/config.json"))
            try Data("shard".utf8).write(to: URL(fileURLWithPath: "\(verified)/part.jsonl.zst"))
            try fm.createSymbolicLink(atPath: "\(dir)/via", withDestinationPath: "real")
            let links: [(String, String)] = [
                ("steps/000002", "000001"),                                  // a step directory linked inside the run
                ("steps/out", "\(dir)/outside"),                             // a directory link out of the run
                ("steps/up", "../../.."),                                    // a relative link above the run
                ("steps/000001/verified/decoy.jsonl.zst", "\(dir)/outside/decoy"),
                ("steps/000001/verified/inside.jsonl.zst", "part.jsonl.zst"),
                ("steps/000001/verified/dangling", "\(dir)/outside/missing"),
                ("steps/000001/verified/loop", "loop"),
                ("steps/loopa", "loopb"), ("steps/loopb", "loopa"),
            ]
            for (at, to) in links {
                try fm.createSymbolicLink(atPath: "\(dir)/real/run/\(at)", withDestinationPath: to)
            }
            Confinement.register(root)
        }

        func remove() { try? FileManager.default.removeItem(atPath: dir) }

        func path(_ relative: String) -> String { relative.isEmpty ? root : "\(root)/\(relative)" }

        /// The verdict on `relative`, checked to be the full resolution's.
        func verdict(_ relative: String) throws -> Confinement.Escape? {
            let path = path(relative)
            let entry = try #require(Confinement.registry.resolvedEntry(for: path))
            #expect(entry.resolved == realRoot)
            let verdict = Confinement.escape(of: path, under: entry)
            #expect(verdict == Confinement.escapeByRealPath(of: path, resolvedRoot: entry.resolved), "\(relative)")
            return verdict
        }

        /// The walk's verdict on `relative`, the same whether the kernel walks it (`openat2`) or
        /// `readlinkat` of each component does.
        func walk(_ relative: String) throws -> Confinement.Walk {
            let path = path(relative)
            let entry = try #require(Confinement.registry.resolvedEntry(for: path))
            let walk = Confinement.walkBelowRoot(path, of: entry)
            #expect(Confinement.walkBelowRoot(path, of: entry, kernel: .init(available: false)) == walk, "\(relative)")
            return walk
        }
    }

    /// Paths under the run, what they lead to, and whether the walk alone could judge them.
    static let cases: [(relative: String, leadsTo: String?, walk: Confinement.Walk)] = [
        // Inside, no link (judged by the walk).
        ("", nil, .noLink),
        ("steps", nil, .noLink),
        ("steps/000001/verified/part.jsonl.zst", nil, .noLink),
        ("steps/000009/eval", nil, .noLink),                                   // missing: its longest existing prefix
        ("steps/000001/verified/part.jsonl.zst/x", nil, .noLink),              // ENOTDIR: a file on the way
        // Inside, through links or dots (judged by realpath).
        ("steps/000002/verified/part.jsonl.zst", nil, .needsResolution),
        ("steps/000002/new/directory", nil, .needsResolution),
        ("steps/000001/verified/inside.jsonl.zst", nil, .needsResolution),
        ("steps/../config.json", nil, .needsResolution),
        ("steps/./000001", nil, .needsResolution),
        ("steps//000001", nil, .needsResolution),
        ("steps/", nil, .needsResolution),
        // Below a loop: the kernel's ELOOP stops `open` itself; accepted as before.
        ("steps/000001/verified/loop/x", nil, .needsResolution),
        ("steps/loopa/x", nil, .needsResolution),
        // Out of the run.
        ("steps/out/decoy", "outside/decoy", .needsResolution),
        ("steps/out/new/directory", "outside", .needsResolution),
        ("steps/up/outside/decoy", "outside/decoy", .needsResolution),
        ("steps/000001/verified/decoy.jsonl.zst", "outside/decoy", .needsResolution),
        ("steps/../../../outside/decoy", "outside/decoy", .needsResolution),
    ]

    @Test func everyVerdictIsTheFullResolutions() throws {
        let tree = try Tree()
        defer { tree.remove() }
        #if os(Linux)
        // Linux 5.6 and later: the one-call walk is in use (else both sides below are readlinkat's).
        if !Confinement.kernelWalk.isAvailable { print("ConfinementTests: openat2 unavailable here; the readlinkat walk alone is checked") }
        #endif
        for c in Self.cases {
            #expect(try tree.walk(c.relative) == c.walk, "\(c.relative)")
            let verdict = try tree.verdict(c.relative)
            if let leadsTo = c.leadsTo {
                #expect(verdict == .outside(real: "\(tree.realDir)/\(leadsTo)", root: tree.realRoot), "\(c.relative)")
            } else {
                #expect(verdict == nil, "\(c.relative): \(verdict.map { "\($0)" } ?? "")")
            }
        }
        for (relative, error) in [("steps/000001/verified/dangling", "No such file or directory"),
                                  ("steps/000001/verified/dangling/x", "No such file or directory"),
                                  ("steps/000001/verified/loop", "Too many levels of symbolic links")] {
            #expect(try tree.walk(relative) == .needsResolution, "\(relative)")
            let probe = tree.path("steps/000001/verified/" + relative.split(separator: "/")[3])
            #expect(try tree.verdict(relative) == .unresolvable(detail: "\(probe): \(error)"), "\(relative)")
        }
    }

    /// `check` throws the one-line error naming the path, for exactly the refused paths.
    @Test func checkRefusesWithTheSameMessage() throws {
        let tree = try Tree()
        defer { tree.remove() }
        for c in Self.cases {
            let path = tree.path(c.relative)
            if let leadsTo = c.leadsTo {
                #expect(throws: ValenceError.badData(path: path, line: nil, detail: "resolves to \(tree.realDir)/\(leadsTo), outside the run directory \(tree.realRoot) (Valence follows no symbolic link out of a run)")) {
                    try Confinement.check(path)
                }
            } else {
                #expect(throws: Never.self, "\(c.relative)") { try Confinement.check(path) }
            }
        }
        // Manifest paths go through the same judgement.
        let listed = try RelativePath(validating: "steps/out/decoy")
        #expect(Confinement.escape(of: listed, under: tree.root) == .outside(real: "\(tree.realDir)/outside/decoy", root: tree.realRoot))
        #expect(Confinement.escape(of: try RelativePath(validating: "steps/000001/verified/part.jsonl.zst"), under: tree.root) == nil)
    }

    @Test func pathsUnderNoRootAreNotConfined() throws {
        let tree = try Tree()
        defer { tree.remove() }
        // Under no registered root (the run's own real path is not how it was registered).
        for path in ["\(tree.dir)/outside/decoy", "\(tree.dir)/real/run/steps/out/decoy", "\(tree.dir)/via/runs/x"] {
            #expect(Confinement.root(of: path) == nil, "\(path)")
            #expect(throws: Never.self, "\(path)") { try Confinement.check(path) }
        }
    }

    /// The root re-pointed after it was resolved (a directory above the run changed) leads out of
    /// the run: refused as before, not judged by the directory first pinned. Pointed back, accepted.
    @Test func aRepointedRootIsJudgedWhereItNowLeads() throws {
        let tree = try Tree()
        defer { tree.remove() }
        let shard = "steps/000001/verified/part.jsonl.zst"
        #expect(try tree.walk(shard) == .noLink)
        try FileManager.default.createDirectory(atPath: "\(tree.dir)/outside/run/steps/000001/verified", withIntermediateDirectories: true)
        try Data("decoy".utf8).write(to: URL(fileURLWithPath: "\(tree.dir)/outside/run/\(shard)"))
        try FileManager.default.removeItem(atPath: "\(tree.dir)/via")
        try FileManager.default.createSymbolicLink(atPath: "\(tree.dir)/via", withDestinationPath: "outside")

        #expect(try tree.walk(shard) == .rootNotPinned)
        #expect(try tree.verdict(shard) == .outside(real: "\(tree.realDir)/outside/run/\(shard)", root: tree.realRoot))
        #expect(try tree.verdict("steps/new") == .outside(real: "\(tree.realDir)/outside/run/steps", root: tree.realRoot))

        try FileManager.default.removeItem(atPath: "\(tree.dir)/via")
        try FileManager.default.createSymbolicLink(atPath: "\(tree.dir)/via", withDestinationPath: "real")
        #expect(try tree.verdict(shard) == nil)
        #expect(try tree.walk(shard) == .noLink)  // pinned again
    }

    /// A run directory removed and made again at its real path (a test, a fresh start): still
    /// inside (its real path is the one resolved), pinned again so the walk judges it.
    @Test func aRecreatedRootIsPinnedAgain() throws {
        let tree = try Tree()
        defer { tree.remove() }
        #expect(try tree.walk("steps") == .noLink)
        try FileManager.default.removeItem(atPath: "\(tree.dir)/real/run")
        #expect(try tree.verdict("steps/000001") == .outside(real: "\(tree.realDir)/real", root: tree.realRoot))  // as before: nothing left but its parent
        try FileManager.default.createDirectory(atPath: "\(tree.dir)/real/run/steps", withIntermediateDirectories: true)
        #expect(try tree.walk("steps") == .rootNotPinned)
        #expect(try tree.verdict("steps/000001") == nil)
        #expect(try tree.walk("steps/000001") == .noLink)
    }

    /// More roots than the registry holds open: at most `maxPinned` descriptors, and a root let go
    /// of is judged the same (and pinned again when checked).
    @Test func pinsAreBounded() throws {
        let tree = try Tree()
        defer { tree.remove() }
        var roots: [String] = []
        for i in 0..<(Confinement.Registry.maxPinned + 8) {
            let root = "\(tree.dir)/real/many/run\(i)"
            try FileManager.default.createDirectory(atPath: "\(root)/steps", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: "\(root)/steps/out", withDestinationPath: "\(tree.dir)/outside")
            Confinement.register(root)
            try Confinement.check("\(root)/steps/x")
            roots.append(root)
        }
        #expect(Confinement.registry.pinnedCount <= Confinement.Registry.maxPinned)
        for root in roots {
            #expect(throws: Never.self) { try Confinement.check("\(root)/steps/x") }
            #expect(throws: ValenceError.self) { try Confinement.check("\(root)/steps/out/decoy") }
        }
        // The first root was let go of by the 32 checked after it, and is pinned again by a check.
        let first = "\(roots[0])/steps"
        #expect(Confinement.walkBelowRoot(first, of: try #require(Confinement.registry.resolvedEntry(for: first))) == .rootNotPinned)
        try Confinement.check(first)
        #expect(Confinement.walkBelowRoot(first, of: try #require(Confinement.registry.resolvedEntry(for: first))) == .noLink)
    }

    /// A directory opened for writing by one `openat2` below the pinned root: only a plain path
    /// inside is opened there (and is where the path says); a link, the root itself, a path under
    /// no root, a re-pointed root or a kernel without `openat2` are left to `open` and the check,
    /// which still refuses the links out of the run.
    @Test func directoriesOpenBeneathTheRootOnlyOnPlainPaths() throws {
        let tree = try Tree()
        defer { tree.remove() }
        guard Confinement.kernelWalk.isAvailable else {
            print("ConfinementTests: openat2 unavailable here; directories are opened and checked as before")
            #expect(Confinement.openDirectoryBeneath(tree.path("steps")) == .unanswered)
            return
        }
        guard case .opened(let fd) = Confinement.openDirectoryBeneath(tree.path("steps/000001/verified")) else {
            Issue.record("a plain directory inside the run was not opened beneath it")
            return
        }
        #expect(Confinement.realPath(descriptor: fd) == "\(tree.realRoot)/steps/000001/verified")
        close(fd)
        #expect(Confinement.openDirectoryBeneath(tree.path("steps/000009/eval")) == .missing)
        #expect(throws: ValenceError.missingInput(path: tree.path("steps/000009/eval"), detail: "no such directory")) {
            try FileSystem.openDirectory(tree.path("steps/000009/eval"))
        }
        for relative in ["", "steps/000002", "steps/out", "steps/up/outside", "steps/000001/verified/part.jsonl.zst"] {
            #expect(Confinement.openDirectoryBeneath(tree.path(relative)) == .unanswered, "\(relative)")
        }
        #expect(Confinement.openDirectoryBeneath("\(tree.dir)/outside/sub") == .unanswered)
        #expect(Confinement.openDirectoryBeneath(tree.path("steps"), kernel: .init(available: false)) == .unanswered)
        // What is left to open and check: inside through a link, opened; out of the run, refused.
        let inside = try FileSystem.openDirectory(tree.path("steps/000002"))
        close(inside)
        #expect(throws: ValenceError.badData(path: tree.path("steps/out"), line: nil, detail: "resolves to \(tree.realDir)/outside, outside the run directory \(tree.realRoot) (Valence follows no symbolic link out of a run)")) {
            try FileSystem.openDirectory(tree.path("steps/out"))
        }
        // The root re-pointed out of the run: not opened beneath the directory first pinned.
        try FileManager.default.createDirectory(atPath: "\(tree.dir)/outside/run/steps", withIntermediateDirectories: true)
        try FileManager.default.removeItem(atPath: "\(tree.dir)/via")
        try FileManager.default.createSymbolicLink(atPath: "\(tree.dir)/via", withDestinationPath: "outside")
        #expect(Confinement.openDirectoryBeneath(tree.path("steps")) == .unanswered)
        #expect(throws: ValenceError.self) { try FileSystem.openDirectory(tree.path("steps")) }
    }
}
