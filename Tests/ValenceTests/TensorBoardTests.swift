import Foundation
import Testing
@testable import Valence

/// The TensorBoard writer's pieces: CRC-32C against published vectors, protobuf varints against
/// the encoding guide, TFRecord framing and tag rules. (TensorBoard's own reader checks whole files
/// in `make test-tensorboard`.)
@Suite struct TensorBoardTests {
    @Test func crc32cMatchesPublishedVectors() {
        // RFC 3720 B.4 and the common check value of CRC-32C.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func maskIsTensorFlowsRotateAndAdd() {
        // crc32c::Mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8, wrapping.
        #expect(CRC32C.masked(0) == 0xA282_EAD8)
        #expect(CRC32C.masked(0x0000_8000) == 0xA282_EAD9)
        #expect(CRC32C.masked(0xFFFF_FFFF) == 0xA282_EAD7)
    }

    @Test func varintsFollowTheEncodingGuide() {
        func encoded(_ v: UInt64) -> [UInt8] {
            var w = ProtobufWriter()
            w.varint(v)
            return w.bytes
        }
        #expect(encoded(0) == [0x00])
        #expect(encoded(1) == [0x01])
        #expect(encoded(127) == [0x7F])
        #expect(encoded(128) == [0x80, 0x01])
        #expect(encoded(150) == [0x96, 0x01])
        #expect(encoded(300) == [0xAC, 0x02])
        #expect(encoded(UInt64.max) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        var w = ProtobufWriter()
        w.int64(2, -1)
        #expect(w.bytes == [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    @Test func fieldsHaveKeysAndLittleEndianPayloads() {
        var w = ProtobufWriter()
        w.int64(1, 150)
        w.string(2, "testing")
        w.float(2, 1.0)
        w.double(1, 1.0)
        #expect(w.bytes == [0x08, 0x96, 0x01, 0x12, 0x07] + Array("testing".utf8)
            + [0x15, 0x00, 0x00, 0x80, 0x3F] + [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
    }

    /// Splits a file into TFRecords, checking both CRCs of each.
    static func records(_ bytes: [UInt8]) -> [[UInt8]]? {
        var out: [[UInt8]] = []
        var i = 0
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
        while i < bytes.count {
            guard i + 12 <= bytes.count else { return nil }
            let header = Array(bytes[i..<i + 8])
            let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(header[$1]) << (8 * UInt64($1)) })
            guard u32(i + 8) == CRC32C.maskedChecksum(header), i + 12 + length + 4 <= bytes.count else { return nil }
            let data = Array(bytes[i + 12..<i + 12 + length])
            guard u32(i + 12 + length) == CRC32C.maskedChecksum(data) else { return nil }
            out.append(data)
            i += 16 + length
        }
        return out
    }

    @Test func eventFileIsFramedRecordsStartingWithTheFileVersion() throws {
        var writer = EventFileWriter(wallTime: 0)
        writer.append(step: 3, wallTime: 3, scalars: [.init(tag: "pass@k/1", value: 0.5)])
        let recs = try #require(Self.records(writer.bytes))
        #expect(recs.count == 2 && writer.events == 2)
        // wall_time 0.0 (field 1, fixed64) then file_version (field 3).
        #expect(recs[0] == [0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x1A, 13] + Array("brain.Event:2".utf8))
        var value = ProtobufWriter()
        value.string(1, "pass@k/1")
        value.float(2, 0.5)
        var summary = ProtobufWriter()
        summary.message(1, value.bytes)
        var event = ProtobufWriter()
        event.double(1, 3)
        event.int64(2, 3)
        event.message(5, summary.bytes)
        #expect(recs[1] == event.bytes)
        // A flipped byte breaks the data CRC.
        var damaged = writer.bytes
        damaged[damaged.count - 6] ^= 1
        #expect(Self.records(damaged) == nil)
    }

    @Test func tagsGroupRelatedMetrics() {
        let cases: [(String, String, String?)] = [
            ("pass@1", "test", "pass@k/1"), ("pass@256", "train", "train/pass@k/256"),
            ("sampled_pass@16", "test", "sampled_pass@k/16"), ("entropy", "test", "entropy"),
            ("entropy_delta", "test", "entropy/delta"), ("grad_norm", "test", "grad_norm/total"),
            ("grad_norm_psr", "test", "grad_norm/psr"), ("grad_norm_nsr", "test", "grad_norm/nsr"),
            ("batch_correct", "test", "batch/correct"), ("solved_none", "test", "batch/solved_none"),
            ("dropped_groups_all_wrong", "test", "batch/dropped_groups_all_wrong"),
            ("redist_tv", "test", "redist/tv"), ("greedy", "test", "greedy"), ("new_field", "test", "new_field"),
            ("step", "test", nil), ("seed", "test", nil), ("split", "train", nil),
        ]
        for (key, split, tag) in cases { #expect(MetricTags.tag(for: key, split: split) == tag, "\(key)") }
    }

    @Test func conversionIsDeterministicAndSkipsNulls() throws {
        let dir = TestSupport.temporaryDirectory("valence-tb")
        defer { FileSystem.removeTree(dir) }
        var text = ""
        for step in 0...2 {
            let ks = PassAtK.ks.map { "\"pass@\($0)\":\(Double($0) / 1000)" }.joined(separator: ",")
            let grad = step == 0 ? "null" : "\(Double(step) * 0.25)"
            text += "{\"schema\":\"valence.metrics/1\",\"step\":\(step),\"objective\":\"nsr\",\"window\":0,\"seed\":1,\"split\":\"test\",\(ks),\"entropy\":0.5,\"greedy\":0.1,\"grad_norm_psr\":\(grad)}\n"
        }
        try FileSystem.writeAtomically("\(dir)/metrics.jsonl", text: text)
        try FileSystem.writeAtomically("\(dir)/config.json", text: "{}")
        let first = try TensorBoardExport.write(run: dir)
        let bytes = try FileSystem.readFile(first.path)
        #expect(first.events == 4)
        #expect(first.scalars == 3 * (PassAtK.ks.count + 2) + 2)
        try TensorBoardExport.write(run: dir)
        #expect(try FileSystem.readFile(first.path) == bytes)
        #expect(try FileSystem.list("\(dir)/tb", includeHidden: true) == [TensorBoardExport.fileName])
        #expect(try TensorBoardExport.findRuns(under: dir) == [dir])

        // The run goes on: the file is extended in place (same inode, so a running TensorBoard
        // reads on), and ends as the same bytes a fresh conversion writes.
        func inode(_ path: String) -> UInt64 {
            var st = stat()
            return stat(path, &st) == 0 ? UInt64(st.st_ino) : 0
        }
        let before = inode(first.path)
        let more = text.split(separator: "\n").last.map { $0.replacingStep(2, with: 3) } ?? ""
        try FileSystem.writeAtomically("\(dir)/metrics.jsonl", text: text + more + "\n")
        try TensorBoardExport.write(run: dir)
        let extended = try FileSystem.readFile(first.path)
        #expect(inode(first.path) == before)
        #expect(extended.count > bytes.count && extended.starts(with: bytes))
        FileSystem.removeTree("\(dir)/tb")
        try TensorBoardExport.write(run: dir)
        #expect(try FileSystem.readFile(first.path) == extended)
        // An append cut short (a prefix plus part of a record) is completed; a file that is not a
        // prefix (metrics rewritten) is replaced.
        try FileSystem.writeAtomically(first.path, bytes: extended[..<(bytes.count + 7)])
        try TensorBoardExport.write(run: dir)
        #expect(try FileSystem.readFile(first.path) == extended)
        var wrong = bytes
        wrong[20] ^= 0xFF
        try FileSystem.writeAtomically(first.path, bytes: wrong)
        try TensorBoardExport.write(run: dir)
        #expect(try FileSystem.readFile(first.path) == extended)
    }
}

extension Substring {
    /// The metrics line with `"step":old` changed to `"step":new`.
    func replacingStep(_ old: Int, with new: Int) -> String {
        let text = String(self)
        guard let r = text.range(of: "\"step\":\(old),") else { return text }
        return text.replacingCharacters(in: r, with: "\"step\":\(new),")
    }
}

/// valence-tensorboard end to end: exit codes, --under, and no event file from bad metrics.
@Suite struct TensorBoardCommandTests {
    static let line = #"{"schema":"valence.metrics/1","step":0,"objective":"nsr","window":0,"seed":1,"split":"test","pass@1":0.1,"pass@2":0.2,"pass@4":0.3,"pass@8":0.4,"pass@16":0.5,"pass@32":0.6,"pass@64":0.7,"pass@128":0.8,"pass@256":0.9,"entropy":1.5,"greedy":0.25,"grad_norm_psr":null}"#

    @Test func convertsEveryRunBelowADirectoryAndRefusesBadMetrics() throws {
        let dir = TestSupport.temporaryDirectory("valence-tb-cli")
        defer { FileSystem.removeTree(dir) }
        for name in ["w0/nsr", "w1/psr"] {
            try FileSystem.writeAtomically("\(dir)/runs/\(name)/metrics.jsonl", text: Self.line + "\n")
            try FileSystem.writeAtomically("\(dir)/runs/\(name)/config.json", text: "{}")
        }
        let r = try TestSupport.valence("tensorboard", ["--under", "\(dir)/runs"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 2)
        for name in ["w0/nsr", "w1/psr"] {
            #expect(FileSystem.exists(TensorBoardExport.eventFilePath(run: "\(dir)/runs/\(name)")))
        }
        let empty = try TestSupport.valence("tensorboard", ["--under", "\(dir)/nothing-here"])
        #expect(empty.status == 66, "\(empty.stderr)")
        try FileSystem.writeAtomically("\(dir)/bad/metrics.jsonl", text: Self.line + "\n{\"schema\":\"valence.metrics/1\",\"step\":\n")
        let bad = try TestSupport.valence("tensorboard", ["\(dir)/bad"])
        #expect(bad.status == 65, "\(bad.stderr)")
        #expect(bad.stderr.contains("\(dir)/bad/metrics.jsonl:2:"), "\(bad.stderr)")
        #expect(!FileSystem.exists("\(dir)/bad/tb"))
        #expect(try TestSupport.valence("tensorboard", []).status == 64)
    }
}
