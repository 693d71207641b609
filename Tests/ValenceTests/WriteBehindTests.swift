import Foundation
import Testing
@testable import Valence

/// ``WriteBehind`` and ``WrittenShards``: what an in-process part hands to the writer queue is
/// written in order, with the same bytes as a shard written in place, and is read back from memory
/// until (and while) the file on disk is that version; after a failed write nothing more is written.
@Suite(.serialized) struct WriteBehindTests {
    func scratch() -> String { TestSupport.temporaryDirectory("valence-write-behind") }

    /// Records `count` rollouts into `writer` and commits it.
    func fill(_ writer: ShardWriter, count: Int) throws -> ShardSummary {
        var r = TestSupport.sampleRollout()
        for i in 0..<count {
            r.sample = i
            r.encode(into: &writer.json, as: .rollout)
            try writer.endRecord()
        }
        return try writer.commit()
    }

    @Test func writesRunInTheOrderHandedOverAndStopAtTheFirstFailure() throws {
        let queue = WriteBehind()
        let order = Box<[Int]>([])
        let skipped = Box<[Int]>([])
        var jobs: [BackgroundJob<Int>] = []
        for i in 0..<6 {
            jobs.append(queue.submit({
                order.mutate { $0.append(i) }
                if i == 3 { throw ValenceError.io(path: "/x/\(i)", detail: "disk full") }
                return i
            }, skipped: { skipped.mutate { $0.append(i) } }))
        }
        for i in 0..<3 { #expect(try jobs[i].wait() == i) }
        for i in 3..<6 {
            #expect(throws: ValenceError.self) { try jobs[i].wait() }
        }
        #expect(order.value == [0, 1, 2, 3], "nothing after the failed write runs")
        #expect(skipped.value == [4, 5])
        #expect(throws: ValenceError.self) { try queue.check() }
        #expect(throws: ValenceError.self) { try queue.drain() }
        do {
            try queue.drain()
        } catch let error as ValenceError {
            #expect(error.description.contains("/x/3"), "the first failure, not a later one: \(error)")
        }
    }

    @Test func aHandedOffShardHasTheBytesOfOneWrittenInPlaceAndIsReadFromMemoryFirst() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let queue = WriteBehind()
        queue.isOn = true
        let direct = "\(dir)/direct.jsonl.zst", behind = "\(dir)/behind.jsonl.zst"
        let d = try fill(ShardWriter(path: direct), count: 300)
        let writer = try ShardWriter(path: behind, level: 1, contexts: .shared, writeBehind: queue)
        let b = try fill(writer, count: 300)
        #expect(b.isHandedOff && b.records == 300, "size and digest come from the queue")
        // Readable (and digestable) at once, whether or not the queue has written it yet.
        var lines = 0
        let read = try ShardReader.forEachLine(behind) { _, _ in lines += 1 }
        #expect(lines == 300 && read.records == 300)
        #expect(read.digest == d.digest, "the digest the file will have")
        try queue.drain()
        #expect(try Data(contentsOf: URL(fileURLWithPath: behind)) == Data(contentsOf: URL(fileURLWithPath: direct)))
        let written = try queue.resolve(Manifest.Output(path: "behind.jsonl.zst", schema: "valence.rollout/1", records: 300, bytes: 0, digest: 0),
                                        in: RunLayout(root: dir))
        #expect(written.bytes == d.bytes && written.digest == d.digest)
    }

    @Test func aKeptTextIsUsedOnlyWhileTheFileIsThatVersion() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let queue = WriteBehind()
        queue.isOn = true
        let path = "\(dir)/kept.jsonl.zst"
        _ = try fill(ShardWriter(path: path, level: 1, contexts: .shared, writeBehind: queue), count: 50)
        try queue.drain()
        #expect(WrittenShards.shared.text(of: path) != nil)
        // Replaced by another shard (a new inode): read from disk, as a separate process would.
        let other = "\(dir)/other.jsonl.zst"
        _ = try fill(ShardWriter(path: other), count: 7)
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: other, toPath: path)
        #expect(WrittenShards.shared.text(of: path) == nil)
        var lines = 0
        try ShardReader.forEachLine(path) { _, _ in lines += 1 }
        #expect(lines == 7)
    }

    @Test func aFailedHandOffLeavesNoFileAndNoText() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let queue = WriteBehind()
        queue.isOn = true
        // A plain file where the shard's directory should be: creating it fails on the queue.
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(dir)/blocked"))
        let path = "\(dir)/blocked/part.jsonl.zst"
        _ = try fill(ShardWriter(path: path, level: 1, contexts: .shared, writeBehind: queue), count: 5)
        #expect(throws: ValenceError.self) { try queue.drain() }
        #expect(WrittenShards.shared.text(of: path) == nil)
        #expect(WrittenShards.shared.pendingWrite(of: path) == nil)
        // And what is handed over later is skipped, with nothing written.
        let later = "\(dir)/later.jsonl.zst"
        _ = try fill(ShardWriter(path: later, level: 1, contexts: .shared, writeBehind: queue), count: 5)
        #expect(throws: ValenceError.self) { try queue.drain() }
        #expect(!FileManager.default.fileExists(atPath: later))
        #expect(WrittenShards.shared.text(of: later) == nil)
    }

    @Test func writtenTextsStayBounded() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WrittenShards(capacityBytes: 1000)
        let path = "\(dir)/f"
        try Data("x".utf8).write(to: URL(fileURLWithPath: path))
        var st = stat()
        try #require(stat(path, &st) == 0)
        let bytes = [UInt8](repeating: 65, count: 300)
        for i in 0..<10 {
            let done = BackgroundJob { ShardSummary(path: "\(dir)/\(i)", records: 1, bytes: 1, digest: 1) }
            let text = bytes.withUnsafeBufferPointer { WrittenShards.Text(copying: $0) }
            store.pending("\(dir)/\(i)", text: text) { done }
            store.written("\(dir)/\(i)", text: text, identity: .init(st))
        }
        #expect(store.usage.writtenBytes <= 1000)
        #expect(store.usage.count == 3, "the newest that fit")
    }
}

/// A value shared with closures run on other threads (tests only).
final class Box<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    init(_ value: T) { stored = value }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ body: (inout T) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}
