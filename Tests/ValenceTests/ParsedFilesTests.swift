import Foundation
import Testing
@testable import Valence

/// ``ParsedFiles``: a value is handed out while the file's bytes are those it was made from, and a
/// value recorded for a file still being written is handed out without waiting for the write.
@Suite(.serialized) struct ParsedFilesTests {
    @Test func aValueForAFileStillBeingWrittenIsHandedOutAtOnce() throws {
        let dir = TestSupport.temporaryDirectory("valence-parsed-files")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/table.txt"
        let files = ParsedFiles(capacity: 2)
        let release = DispatchSemaphore(value: 0)
        let write = BackgroundJob { () -> ShardSummary in
            release.wait()  // the write is held up until the checks below are done
            try FileSystem.writeAtomically(path, text: "v1\n")
            return ShardSummary(path: path, records: 1, bytes: 3, digest: Digest.of(Array("v1\n".utf8)).value)
        }
        files.insert("parsed v1", path: path, writing: write)
        // Not parsed, and no file needed, while the write runs; nor dropped for newer values.
        #expect(try files.value(path) { () -> String in Issue.record("parsed while written"); return "" } == "parsed v1")
        for i in 0..<4 { files.insert(i, path: "\(dir)/other-\(i)", digest: UInt64(i)) }
        #expect(try files.value(path) { () -> String in Issue.record("dropped while written"); return "" } == "parsed v1")
        release.signal()
        _ = try write.wait()
        // Written: judged by the write's digest like any value.
        #expect(try files.value(path) { () -> String in Issue.record("the written bytes are the same"); return "" } == "parsed v1")
        try FileSystem.writeAtomically(path, text: "v2\n")
        #expect(try files.value(path) { "parsed v2" } == "parsed v2", "another version is parsed again")
    }

    @Test func aValueWhoseWriteFailedIsDropped() throws {
        let dir = TestSupport.temporaryDirectory("valence-parsed-files")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/table.txt"
        try FileSystem.writeAtomically(path, text: "old\n")
        let files = ParsedFiles()
        let write = BackgroundJob { () -> ShardSummary in throw ValenceError.io(path: path, detail: "disk full") }
        files.insert("never written", path: path, writing: write)
        _ = try? write.wait()
        // The file still holds the old bytes: they are parsed, not the value of the failed write.
        #expect(try files.value(path) { "parsed old" } == "parsed old")
        #expect(try files.value(path) { () -> String in Issue.record("cached now"); return "" } == "parsed old")
    }
}
