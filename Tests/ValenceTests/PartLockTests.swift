import Foundation
import Testing
@testable import Valence

/// Two processes on the same stage part take turns: the second waits for the first's lock, then
/// finds the part done (or does it), instead of both writing the same temporary file.
@Suite struct PartLockTests {
    @Test func aStageWaitsForTheProcessHoldingItsPart() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let made = try TestSupport.valence("init", ["--run", run, "--train", "200", "--test", "100", "--batch", "16",
                                                    "--group", "8", "--corpus", "2000", "--steps", "1", "-q"])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(try TestSupport.valence("generate", ["--run", run, "--step", "1", "-q"]).status == 0)

        // Hold verify's part lock as a running valence-verify would.
        let manifest = RunLayout.partManifest(step: 1, VerifyStage.directory, shard: 0, shards: 1)
        let held = try FileLock.acquire("\(run)/\(RunLayout.lock(forManifest: manifest))") {
            Issue.record("nobody else holds the lock yet")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(TestSupport.binDirectory)/valence-verify")
        process.arguments = ["--run", run, "--step", "1"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()

        // It says it is waiting (read until then; it cannot finish while the lock is held).
        var said = ""
        while !said.contains("waiting") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // it exited without waiting: the lock did not hold it
            said += String(decoding: chunk, as: UTF8.self)
        }
        #expect(said.contains("verify: another process is writing \(manifest); waiting for it"), "\(said)")
        #expect(process.isRunning)
        #expect(!FileSystem.exists("\(run)/\(manifest)"))

        held.release()
        process.waitUntilExit()
        said += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(said)")
        #expect(FileSystem.exists("\(run)/\(manifest)"))
        // The lock file lives outside the output directory, which holds only outputs.
        #expect(!((try? FileSystem.list("\(run)/steps/000001/verified")) ?? []).contains { $0.hasSuffix(".lock") })
        #expect(!FileLock.isHeld("\(run)/\(RunLayout.lock(forManifest: manifest))"))
    }

    /// Within one process a part lock is shared (the same part of two steps shares a lock file, and
    /// write-behind keeps step N's while step N+1 starts): other processes stay out until the last
    /// holder lets go.
    @Test func holdersInOneProcessShareAPartLock() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/.locks/verified_part.lock"
        let first = try FileLock.acquire(path, sharedInProcess: true) { Issue.record("nobody holds it") }
        let second = try FileLock.acquire(path, sharedInProcess: true) { Issue.record("a holder in this process must not wait") }
        #expect(FileLock.isHeld(path))
        first.release()
        #expect(FileLock.isHeld(path), "held while a holder remains")
        second.release()
        #expect(!FileLock.isHeld(path))
        // Taken again afresh after the last release.
        let again = try FileLock.acquire(path, sharedInProcess: true) { Issue.record("free again") }
        #expect(FileLock.isHeld(path))
        again.release()
        #expect(!FileLock.isHeld(path))
    }
}
