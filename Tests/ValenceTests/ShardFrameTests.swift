import CZstd
import Foundation
import Testing
@testable import Valence

/// The shard file as a sequence of zstd frames: ``ShardWriter`` cuts one frame per ~1 MiB of
/// records, and ``ShardReader`` decompresses a frame of known size in one call and streams any
/// other. Both paths must give the same lines and the same errors, in both reader modes.
@Suite struct ShardFrameTests {
    let shards = ShardTests()

    /// The compressed size of each frame of `bytes`, in order.
    func frameSizes(_ bytes: [UInt8]) throws -> [Int] {
        var sizes: [Int] = []
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { ZSTD_findFrameCompressedSize($0.baseAddress! + offset, bytes.count - offset) }
            try #require(ZSTD_isError(n) == 0, "no frame at \(offset)")
            sizes.append(n)
            offset += n
        }
        return sizes
    }

    /// Writes `count` weighted records (~300 bytes each) to `name` in `dir`; returns the path.
    func writeShard(_ count: Int, _ dir: String, _ name: String = "s") throws -> String {
        let path = "\(dir)/\(name).jsonl.zst"
        _ = try shards.write(shards.sampleRollouts(count), to: path, as: .weighted)
        return path
    }

    func lines(_ path: String, readAhead: Bool) throws -> [String] {
        try shards.readLines(path, readAhead: readAhead).get()
    }

    @Test func manyFramesRoundTripInBothModes() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rollouts = shards.sampleRollouts(15_000)
        let path = "\(dir)/s.jsonl.zst"
        let summary = try shards.write(rollouts, to: path, as: .weighted)
        let bytes = try FileSystem.readFile(path)
        #expect(summary.bytes == bytes.count)
        let frames = try frameSizes(bytes)
        #expect(frames.count >= 3, "\(frames)")
        // Every frame holds whole records of at least the frame size (the last one: the rest).
        var offset = 0
        for (i, size) in frames.enumerated() {
            let content = bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress! + offset, size) }
            #expect(content <= UInt64(ShardWriter.frameSize + 1000))
            if i < frames.count - 1 { #expect(content >= UInt64(ShardWriter.frameSize)) }
            offset += size
        }
        let plain = try lines(path, readAhead: false)
        #expect(plain.count == 15_000)
        #expect(try lines(path, readAhead: true) == plain)
        #expect(oneCallFrames(path) == frames.count)
        #expect(plain.map { String($0.drop { $0 != " " }.dropFirst()) } == (try TestSupport.zstdLines(path)))
        let back = try shards.read(path, as: .weighted)
        #expect(back.count == rollouts.count)
        for (x, y) in zip(back, rollouts) {
            #expect(x.prompt == y.prompt && x.sample == y.sample && x.logp == y.logp && x.advantage == y.advantage)
        }
    }

    /// Frames the reader must stream: unknown content size (`zstd` from a pipe, which is also what
    /// the writer made before shards had frames: one streamed frame), content over the one-shot
    /// limit, no checksum; and skippable frames between concatenated shards (`cat a b`).
    @Test func framesOfOtherWritersAndConcatenationReadTheSame() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // ~9.6 MB of JSONL: one frame of it is over the one-shot limit.
        let ours = try writeShard(32_000, dir)
        let expected = try lines(ours, readAhead: false)
        #expect(expected.count == 32_000)
        let shell = """
            set -e; cd '\(dir)'
            zstd -q -dc s.jsonl.zst > plain.jsonl
            cat plain.jsonl | zstd -q -1 -c > pipe.jsonl.zst
            zstd -q -1 -c plain.jsonl > big.jsonl.zst
            head -c 3000000 plain.jsonl > part.jsonl
            zstd -q -1 --no-check -c part.jsonl > nocheck.jsonl.zst
            """
        let made = try TestSupport.run("/bin/sh", ["-c", shell])
        try #require(made.status == 0, "\(made.stderr)")
        #expect(try frameSizes(try FileSystem.readFile("\(dir)/pipe.jsonl.zst")).count == 1)
        let pipeHeader = try FileSystem.readFile("\(dir)/pipe.jsonl.zst")
        #expect(pipeHeader.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress!, $0.count) } == UInt64.max, "unknown content size")
        for name in ["pipe", "big"] {
            for ahead in [false, true] {
                #expect(try lines("\(dir)/\(name).jsonl.zst", readAhead: ahead) == expected, "\(name) readAhead \(ahead)")
            }
        }
        #expect(oneCallFrames("\(dir)/pipe.jsonl.zst") == 0 && oneCallFrames("\(dir)/big.jsonl.zst") == 0)
        // Known size under the limit without a checksum: one call; the last line has no newline.
        #expect(oneCallFrames("\(dir)/nocheck.jsonl.zst") == 1)
        let part = try String(contentsOfFile: "\(dir)/part.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(try lines("\(dir)/nocheck.jsonl.zst", readAhead: true).map { String($0.drop { $0 != " " }.dropFirst()) } == part)
        // cat of: our shard, a skippable frame, a small shard of ours, a frame without checksum
        // ending mid-line, and a streamed frame (whose first line continues that line).
        let small = try writeShard(10, dir, "small")
        var joined = try FileSystem.readFile(ours)
        joined += [0x53, 0x2A, 0x4D, 0x18, 5, 0, 0, 0, 1, 2, 3, 4, 5]
        joined += try FileSystem.readFile(small)
        joined += try FileSystem.readFile("\(dir)/nocheck.jsonl.zst")
        joined += try FileSystem.readFile("\(dir)/pipe.jsonl.zst")
        try FileSystem.writeAtomically("\(dir)/cat.jsonl.zst", bytes: joined)
        let catted = try TestSupport.run("/bin/sh", ["-c", "zstd -q -dc '\(dir)/cat.jsonl.zst'"])
        try #require(catted.status == 0, "\(catted.stderr)")
        let all = catted.stdout.split(separator: "\n").map(String.init)
        #expect(all.count == 32_000 + 10 + part.count + 32_000 - 1)
        for ahead in [false, true] {
            let got = try lines("\(dir)/cat.jsonl.zst", readAhead: ahead)
            #expect(got.count == all.count)
            #expect(got.map { String($0.drop { $0 != " " }.dropFirst()) } == all, "readAhead \(ahead)")
            #expect(got.last?.hasPrefix("\(all.count): ") == true)
        }
    }

    /// How many frames of the file the reader decompressed in one call.
    func oneCallFrames(_ path: String) -> Int? {
        guard let chunks = try? LineChunks(path: path, digest: false) else { return nil }
        let slot = ChunkSlot()
        while true {
            let chunk = chunks.fill(slot)
            if chunk.problem != nil { return nil }
            if chunk.isLast { return chunks.framesInOneCall }
        }
    }

    func expectFailure(_ path: String, _ fragment: String) {
        for ahead in [false, true] {
            switch shards.readLines(path, readAhead: ahead) {
            case .success(let lines): Issue.record("\(path) read as \(lines.count) lines, expected \(fragment)")
            case .failure(let e):
                #expect(e.exitCode == 65)
                #expect("\(e)".hasPrefix("\(path): "), "\(e)")
                #expect("\(e)".contains(fragment), "\(e)")
            }
        }
    }

    @Test func damagedFramesAreRejected() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = try FileSystem.readFile(try writeShard(15_000, dir))
        let frames = try frameSizes(bytes)
        try #require(frames.count >= 3)
        let secondEnd = frames[0] + frames[1]
        // The checksum of the second frame: the frame is complete, so it takes the one-shot path.
        var checksum = bytes
        checksum[secondEnd - 2] ^= 0x5A
        try FileSystem.writeAtomically("\(dir)/checksum.jsonl.zst", bytes: checksum)
        expectFailure("\(dir)/checksum.jsonl.zst", "not a valid zstd shard (")
        // A byte in the middle of the compressed data of the second frame.
        var middle = bytes
        middle[frames[0] + frames[1] / 2] ^= 0xFF
        try FileSystem.writeAtomically("\(dir)/middle.jsonl.zst", bytes: middle)
        expectFailure("\(dir)/middle.jsonl.zst", "not a valid zstd shard (")
        // Cut inside a frame, inside the next frame's header, and one byte short of the end.
        for (name, cut) in [("inside", frames[0] + frames[1] / 2), ("header", secondEnd + 3), ("last", bytes.count - 1)] {
            try FileSystem.writeAtomically("\(dir)/\(name).jsonl.zst", bytes: bytes[0..<cut])
            expectFailure("\(dir)/\(name).jsonl.zst", "truncated zstd shard (the file ends mid-frame)")
        }
        // Cut exactly at a frame boundary: a valid zstd file with fewer lines. The reader cannot
        // tell; the manifest's record count does (BadInputTests.truncatedAtFrameBoundary).
        try FileSystem.writeAtomically("\(dir)/boundary.jsonl.zst", bytes: bytes[0..<secondEnd])
        let kept = try lines("\(dir)/boundary.jsonl.zst", readAhead: false)
        #expect(kept.count > 0 && kept.count < 15_000)
        #expect(try lines("\(dir)/boundary.jsonl.zst", readAhead: true) == kept)
    }

    /// A line longer than the limit is refused at its line number, also when it arrives in
    /// frames decompressed in one call.
    @Test func lineTooLongAcrossFrames() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try ShardWriter(path: "\(dir)/long.jsonl.zst")
        try w.append(line: Array("{}".utf8))
        // No newline for more than maxLineBytes: 1 MiB pieces appended as raw JSON bytes.
        let piece = [UInt8](repeating: 0x20, count: 1 << 20)
        for _ in 0...(ShardReader.maxLineBytes >> 20) + 1 {
            piece.withUnsafeBufferPointer { w.json.append($0) }
            if w.json.count >= ShardWriter.frameSize { try w.compressFrame() }
        }
        try w.append(line: Array("{}".utf8))
        try w.commit()
        let frames = try frameSizes(try FileSystem.readFile("\(dir)/long.jsonl.zst"))
        #expect(frames.count > 60)
        for ahead in [false, true] {
            let r = shards.readLines("\(dir)/long.jsonl.zst", readAhead: ahead)
            #expect(r == .failure(.badData(path: "\(dir)/long.jsonl.zst", line: 2, detail: "line longer than 64 MiB (not a Valence record)")))
        }
    }

    @Test func emptyShardIsOneValidFrame() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/empty.jsonl.zst"
        let summary = try ShardWriter(path: path).commit()
        #expect(summary.records == 0)
        let bytes = try FileSystem.readFile(path)
        #expect(try frameSizes(bytes) == [bytes.count])
        #expect(bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress!, $0.count) } == 0)
        let zstd = try TestSupport.run("/usr/bin/env", ["zstd", "-dc", path])
        #expect(zstd.status == 0 && zstd.stdout.isEmpty)
        for ahead in [false, true] { #expect(try lines(path, readAhead: ahead).isEmpty) }
    }

    @Test func sameRecordsGiveSameBytes() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try FileSystem.readFile(try writeShard(12_000, dir, "a"))
        let b = try FileSystem.readFile(try writeShard(12_000, dir, "b"))
        #expect(try frameSizes(a).count >= 3)
        #expect(a == b)
    }
}
