import Foundation
import Testing
@testable import Valence

/// `valence-init` marks `RUN/steps` with ext4's top-of-hierarchy attribute
/// (``FileSystem/spreadSubdirectories(_:)``); file systems without inode flags are left alone.
@Suite struct FileSystemAllocationTests {
    @Test func initMarksTheStepsDirectory() throws {
        let dir = TestSupport.temporaryDirectory("valence-allocation")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plain = "\(dir)/plain"
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        guard let before = FileSystem.spreadsSubdirectories(plain) else {
            print("FileSystemAllocationTests: skipped: \(dir) has no inode flags (not ext2/3/4)")
            return
        }
        #expect(before == false, "a new directory does not have the attribute")
        #expect(FileSystem.spreadSubdirectories(plain))
        #expect(FileSystem.spreadsSubdirectories(plain) == true)
        #expect(FileSystem.spreadSubdirectories(plain), "setting it again is harmless")

        let run = "\(dir)/run"
        try #require(try TestSupport.valence("init", ["--run", run, "-q", "--steps", "1", "--train", "100", "--test", "50",
                                                      "--batch", "8", "--corpus", "500"]).status == 0)
        #expect(FileSystem.spreadsSubdirectories("\(run)/steps") == true)
        #expect(FileSystem.spreadsSubdirectories("\(run)/task") == false, "only RUN/steps")
        #expect(FileSystem.spreadsSubdirectories("\(dir)/missing") == nil)
    }
}
