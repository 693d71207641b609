import Foundation
import Testing
@testable import Valence

/// Helpers shared by the test suites: temporary directories, the repository root, and running the
/// real executables and make targets.
enum TestSupport {
    /// The repository root (the directory holding Package.swift).
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// The debug binaries `swift build --build-tests` produced (what `make test` runs the e2e tests with).
    static var binDirectory: String { "\(repoRoot)/.build/debug" }

    /// A fresh directory under the system temporary directory, removed by the caller if wanted.
    static func temporaryDirectory(_ name: String = "valence-test") -> String {
        let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Whether strace runs here (installed, and allowed to trace: not in every container).
    static let straceWorks: Bool = (try? run("/usr/bin/env", ["strace", "-o", "/dev/null", "true"]).status) == 0

    /// Runs a program to completion and captures its output.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], cwd: String? = nil,
                    environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs one of the valence-* executables from the debug build.
    @discardableResult
    static func valence(_ tool: String, _ arguments: [String]) throws -> Result {
        try run("\(binDirectory)/valence-\(tool)", arguments)
    }

    /// Runs `make` in the repository root with the debug build (already built by `make test`; make
    /// must not rebuild while `swift test` holds the build directory).
    @discardableResult
    static func make(_ arguments: [String]) throws -> Result {
        try run("/usr/bin/env", ["make", "--no-print-directory", "CONFIG=debug", "NO_BUILD=1"] + arguments, cwd: repoRoot)
    }

    /// A weighted rollout with awkward doubles (17 digits, an exponent, an integral value), shared
    /// by the codec tests.
    static func sampleRollout() -> Rollout {
        var r = Rollout()
        r.run = Identifier(0xa3e1_eac0_49c5_a726)
        r.step = 3
        r.prompt = 17
        r.sample = 4
        r.a = 22
        r.b = 571
        r.text = Array("0593".utf8)
        r.tokens = [0, 5, 9, 3]
        r.logp = [-0.38675839551388336, -0.34456174064532535, -1e-05, -2.0]
        r.verdict = .correct
        r.reward = 1
        r.advantage = 0.1
        return r
    }

    /// Every file of a run by relative path, the drivers' bookkeeping aside (`.lock`, `.locks/`, `.synced`).
    static func runFiles(_ root: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: root)
        where path != ".lock" && path != ".synced" && !path.hasPrefix(".locks") {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(root)/\(path)", isDirectory: &isDirectory)
            if !isDirectory.boolValue { out[path] = try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(path)")) }
        }
        return out
    }

    /// Expects two file sets (``runFiles(_:)``) to hold the same paths with the same bytes.
    static func expectSameFiles(_ a: [String: Data], _ b: [String: Data], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.keys.sorted() == b.keys.sorted(), sourceLocation: sourceLocation)
        for (path, bytes) in a { #expect(b[path] == bytes, "\(path) differs", sourceLocation: sourceLocation) }
    }

    /// Decompresses a shard with the zstd CLI and returns its lines.
    static func zstdLines(_ path: String) throws -> [String] {
        let r = try run("/usr/bin/env", ["zstd", "-dc", path])
        return r.stdout.split(separator: "\n").map(String.init)
    }
}
