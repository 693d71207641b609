import Foundation
import Testing
@testable import Valence

/// ``DigestCache``: a file's digest is answered from the cache only while the file is the very
/// version that was hashed or written; any change seen by its identity means reading it again.
@Suite(.serialized) struct DigestCacheTests {
    func scratch() -> String { TestSupport.temporaryDirectory("valence-digest-cache") }

    @Test func aWrittenFileIsKnownUntilItChanges() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/a.txt"
        try FileSystem.writeAtomically(path, text: "first version\n")
        let written = Digest.of(Array("first version\n".utf8)).value
        #expect(DigestCache.shared.digest(of: path) == written, "recorded at commit")
        #expect(try Digest.ofFile(path).value == written)

        // Replaced through a temporary file (a new inode): not known until hashed again.
        try FileManager.default.removeItem(atPath: path)
        try Data("other version!\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(DigestCache.shared.digest(of: path) == nil)
        #expect(try Digest.ofFile(path).value == Digest.of(Array("other version!\n".utf8)).value)
        #expect(DigestCache.shared.digest(of: path) == Digest.of(Array("other version!\n".utf8)).value, "recorded when read")

        // Appended to in place: the size and change time differ.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("more\n".utf8))
        try handle.close()
        #expect(DigestCache.shared.digest(of: path) == nil)
        #expect(try Digest.ofFile(path).value == Digest.of(Array("other version!\nmore\n".utf8)).value)
    }

    @Test func aRewriteInPlaceOfTheSameSizeIsSeenByItsChangeTime() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/b.txt"
        try Data("0123456789".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try Digest.ofFile(path).value == Digest.of(Array("0123456789".utf8)).value)
        // Past the file clock's tick (coarse, a few ms), then the same size, other bytes, same inode.
        Thread.sleep(forTimeInterval: 0.05)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.write(contentsOf: Data("abcdefghij".utf8))
        try handle.close()
        #expect(try Digest.ofFile(path).value == Digest.of(Array("abcdefghij".utf8)).value)
    }

    @Test func theCacheStaysBounded() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = DigestCache(capacity: 8)
        let path = "\(dir)/c.txt"
        try Data("x".utf8).write(to: URL(fileURLWithPath: path))
        var st = stat()
        try #require(stat(path, &st) == 0)
        for i in 0..<100 { cache.record("\(dir)/\(i)", identity: .init(st), digest: UInt64(i)) }
        #expect(cache.count <= 8)
        #expect(cache.count >= 4, "the newer half is kept")
        cache.record(path, identity: .init(st), digest: 42)
        #expect(cache.digest(of: path) == 42)
        #expect(cache.digest(of: "\(dir)/missing") == nil)
    }
}

/// ``BackgroundJob``: the value or error of work done on another thread.
@Suite struct BackgroundJobTests {
    @Test func handsOverValueAndError() throws {
        let jobs = (0..<8).map { i in BackgroundJob { (0...i * 1000).reduce(0, +) } }
        for (i, job) in jobs.enumerated() { #expect(try job.wait() == (0...i * 1000).reduce(0, +)) }
        let failing = BackgroundJob<Int> { throw ValenceError.io(path: "/x", detail: "boom") }
        #expect(throws: ValenceError.self) { try failing.wait() }
    }
}
