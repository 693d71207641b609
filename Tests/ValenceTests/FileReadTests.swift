import Foundation
import Testing
@testable import Valence

/// ``FileSystem/readFile(_:)`` reads into a buffer sized by `fstat` and not zero-filled: every
/// size around its first capacity, files whose size `stat` does not give (a pipe, /proc) and a
/// missing file must come back whole and exact.
@Suite struct FileReadTests {
    func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed | 1
        return (0..<count).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }

    @Test(arguments: [0, 1, 2, 4_095, 4_096, 4_097, 65_535, 65_536, 65_537, 300_001])
    func regularFileComesBackExactly(size: Int) throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/f"
        let content = bytes(size, seed: UInt64(size) + 7)
        try Data(content).write(to: URL(fileURLWithPath: path))
        let read = try FileSystem.readFile(path)
        #expect(read.count == size)
        #expect(read == content)
    }

    /// A pipe has no size: the buffer starts at 4 KiB and doubles until the writer closes it.
    @Test func pipeIsReadToItsEnd() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/fifo"
        #expect(mkfifo(path, 0o600) == 0)
        let content = bytes(150_000, seed: 3)
        let writer = Thread {
            guard let handle = FileHandle(forWritingAtPath: path) else { return }
            handle.write(Data(content))
            try? handle.close()
        }
        writer.start()
        let read = try FileSystem.readFile(path)
        #expect(read.count == content.count)
        #expect(read == content)
    }

    /// /proc files report size 0 and still have content.
    @Test func procFileHasItsContent() throws {
        let text = try FileSystem.readText("/proc/self/status")
        #expect(text.hasPrefix("Name:"))
        #expect(text.contains("\nPid:"))
        #expect(text.hasSuffix("\n"))
    }

    @Test func missingFileIsNamed() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: ValenceError.self) { try FileSystem.readFile("\(dir)/none") }
        do {
            _ = try FileSystem.readFile("\(dir)/none")
        } catch {
            #expect("\(error)".contains("\(dir)/none"))
        }
    }
}
