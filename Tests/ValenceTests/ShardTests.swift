import Foundation
import Testing
@testable import Valence

/// Shard round trips through zstd, and rejection of damaged shards with the file named.
@Suite struct ShardTests {
    func sampleRollouts(_ n: Int) -> [Rollout] {
        var rng = CounterRNG(seed: 1, purpose: .rollout)
        return (0..<n).map { i in
            var r = Rollout()
            r.run = Identifier(0x0123_4567_89ab_cdef)
            r.step = 3
            r.prompt = i / 8
            r.sample = i % 8
            r.a = rng.below(1000)
            r.b = rng.below(1000)
            r.tokens = (0..<4).map { _ in rng.below(10) }
            r.text = r.tokens.map { UInt8(48 + $0) }
            r.logp = (0..<4).map { _ in log(rng.unit() + 1e-300) }
            r.verdict = [.correct, .wrong, .malformed][i % 3]
            r.reward = r.verdict.reward
            r.advantage = rng.unit() * 2 - 1
            return r
        }
    }

    func write(_ rollouts: [Rollout], to path: String, as schema: Schema) throws -> ShardSummary {
        let w = try ShardWriter(path: path)
        for r in rollouts {
            r.encode(into: &w.json, as: schema)
            try w.endRecord()
        }
        return try w.commit()
    }

    func read(_ path: String, as schema: Schema) throws -> [Rollout] {
        var out: [Rollout] = []
        var r = Rollout()
        try ShardReader.forEachLine(path) { line, _ in
            try r.decode(line, as: schema)
            out.append(r)
        }
        return out
    }

    @Test(arguments: [Schema.weighted, .verified, .rollout])
    func roundTrip(schema: Schema) throws {
        let dir = TestSupport.temporaryDirectory()
        // Enough records to span several compression chunks and line-buffer refills.
        let rollouts = sampleRollouts(5000)
        let summary = try write(rollouts, to: "\(dir)/s.jsonl.zst", as: schema)
        #expect(summary.records == 5000)
        #expect(FileSystem.fileSize("\(dir)/s.jsonl.zst") == summary.bytes)
        #expect(!FileSystem.exists(FileSystem.temporaryName(for: "\(dir)/s.jsonl.zst")))
        let back = try read("\(dir)/s.jsonl.zst", as: schema)
        #expect(back.count == rollouts.count)
        for (x, y) in zip(back, rollouts) {
            #expect(x.tokens == y.tokens && x.logp == y.logp && x.text == y.text && x.prompt == y.prompt)
            if schema != .rollout { #expect(x.verdict == y.verdict) }
            if schema == .weighted { #expect(x.advantage == y.advantage) }
        }
    }

    @Test func readableByZstdAndJq() throws {
        let dir = TestSupport.temporaryDirectory()
        _ = try write(sampleRollouts(10), to: "\(dir)/s.jsonl.zst", as: .weighted)
        let lines = try TestSupport.zstdLines("\(dir)/s.jsonl.zst")
        #expect(lines.count == 10)
        #expect(lines[0].hasPrefix("{\"schema\":\"valence.weighted/1\",\"run\":\"0123456789abcdef\",\"step\":3,"))
        let jq = try TestSupport.run("/bin/sh", ["-c", "zstd -dc '\(dir)/s.jsonl.zst' | jq -r 'select(.verdict == \"correct\") | .prompt' | wc -l"])
        #expect(jq.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "4")
    }

    @Test func hashEditedRecordsAreStillAccepted() throws {
        // jq reorders nothing by default but people do: keys in another order, whitespace,
        // escapes, exponents and integral floats must all decode to the same record.
        let original = sampleRollouts(1)[0]
        var w = JSONWriter()
        original.encode(into: &w, as: .weighted)
        let edited = """
          { "adv" : \(original.advantage), "reward": 1.0e0, "verdict":"\\u0063orrect", "logp":[\(original.logp.map { String($0) }.joined(separator: " , "))],
            "tokens":[\(original.tokens.map(String.init).joined(separator: ","))], "text":"\(String(decoding: original.text, as: UTF8.self))",
            "b":\(original.b), "a":\(original.a), "sample":0, "prompt":0, "step":3e0, "run":"0123456789abcdef",
            "schema":"valence.weighted/1", "note": {"by": ["hand", null, true]} }
          """
        var r = Rollout()
        try Array(edited.utf8).withUnsafeBufferPointer { try r.decode($0, as: .weighted) }
        #expect(r.advantage == original.advantage && r.logp == original.logp && r.tokens == original.tokens)
        #expect(r.verdict == .correct && r.step == 3)
    }

    func expectBadData(_ path: String, _ fragment: String) {
        do {
            _ = try read(path, as: .weighted)
            Issue.record("expected an error for \(path)")
        } catch let e as ValenceError {
            guard case let .badData(p, _, detail) = e else { Issue.record("wrong error \(e)"); return }
            #expect(p == path)
            #expect(detail.contains(fragment), "\(detail)")
            #expect(e.exitCode == 65)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func truncatedShardIsRejected() throws {
        let dir = TestSupport.temporaryDirectory()
        _ = try write(sampleRollouts(3000), to: "\(dir)/s.jsonl.zst", as: .weighted)
        let bytes = try FileSystem.readFile("\(dir)/s.jsonl.zst")
        try FileSystem.writeAtomically("\(dir)/cut.jsonl.zst", bytes: bytes[0..<(bytes.count * 2 / 3)])
        expectBadData("\(dir)/cut.jsonl.zst", "truncated")
        try FileSystem.writeAtomically("\(dir)/empty.jsonl.zst", bytes: [])
        expectBadData("\(dir)/empty.jsonl.zst", "empty file")
    }

    @Test func corruptShardIsRejected() throws {
        let dir = TestSupport.temporaryDirectory()
        _ = try write(sampleRollouts(3000), to: "\(dir)/s.jsonl.zst", as: .weighted)
        var bytes = try FileSystem.readFile("\(dir)/s.jsonl.zst")
        bytes[bytes.count / 2] ^= 0xFF
        try FileSystem.writeAtomically("\(dir)/bad.jsonl.zst", bytes: bytes)
        expectBadData("\(dir)/bad.jsonl.zst", "not a valid zstd shard")
        try FileSystem.writeAtomically("\(dir)/plain.jsonl.zst", text: "{\"schema\":\"valence.weighted/1\"}\n")
        expectBadData("\(dir)/plain.jsonl.zst", "not a valid zstd shard")
    }

    @Test func malformedLineNamesFileAndLine() throws {
        let dir = TestSupport.temporaryDirectory()
        let w = try ShardWriter(path: "\(dir)/s.jsonl.zst")
        sampleRollouts(1)[0].encode(into: &w.json, as: .weighted)
        try w.endRecord()
        try w.append(line: Array("{\"schema\":\"valence.weighted/1\",".utf8))
        try w.commit()
        do {
            _ = try read("\(dir)/s.jsonl.zst", as: .weighted)
            Issue.record("expected an error")
        } catch let e as ValenceError {
            #expect(e == .badData(path: "\(dir)/s.jsonl.zst", line: 2, detail: "invalid JSON at column 32: expected a key string"))
            #expect(e.description.hasPrefix("\(dir)/s.jsonl.zst:2: "))
        }
    }

    /// Every line and line number, or the error, the reader gives for a file.
    func readLines(_ path: String, readAhead: Bool, stopAt: Int? = nil) -> Result<[String], ValenceError> {
        var lines: [String] = []
        do {
            try ShardReader.forEachLine(path, readAhead: readAhead) { line, number in
                if number == stopAt { throw RecordError("stopped at line \(number)") }
                lines.append("\(number): \(String(decoding: line, as: UTF8.self))")
            }
            return .success(lines)
        } catch let e as ValenceError {
            return .failure(e)
        } catch {
            Issue.record("unexpected error \(error)")
            return .success([])
        }
    }

    /// Reading ahead on a second thread changes nothing a caller can see: the same lines with the
    /// same numbers, and the same error for a damaged file or a body that throws midway (which
    /// must also not leave the reading thread behind: the call returns).
    @Test func readAheadGivesTheSameLinesAndErrors() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try write(sampleRollouts(20_000), to: "\(dir)/s.jsonl.zst", as: .weighted)
        let bytes = try FileSystem.readFile("\(dir)/s.jsonl.zst")
        try FileSystem.writeAtomically("\(dir)/cut.jsonl.zst", bytes: bytes[0..<(bytes.count * 2 / 3)])
        var corrupt = bytes
        corrupt[bytes.count / 2] ^= 0xFF
        try FileSystem.writeAtomically("\(dir)/bad.jsonl.zst", bytes: corrupt)
        try FileSystem.writeAtomically("\(dir)/odd.jsonl", text: "first\r\n\n  \t\nsecond\n" + String(repeating: "x", count: 300_000) + "\nlast, no newline")
        _ = try TestSupport.run("/bin/sh", ["-c", "zstd -q -f '\(dir)/odd.jsonl' -o '\(dir)/odd.jsonl.zst'"])
        for file in ["s", "cut", "bad", "odd"] {
            let path = "\(dir)/\(file).jsonl.zst"
            let plain = readLines(path, readAhead: false), ahead = readLines(path, readAhead: true)
            #expect(plain == ahead, "\(file)")
            if case .success(let lines) = plain { #expect(lines.count >= 4) }
        }
        #expect(try readLines("\(dir)/s.jsonl.zst", readAhead: true).get().count == 20_000)
        #expect(try readLines("\(dir)/odd.jsonl.zst", readAhead: true).get().last == "6: last, no newline")
        for stop in [1, 777, 19_999] {
            let plain = readLines("\(dir)/s.jsonl.zst", readAhead: false, stopAt: stop)
            #expect(plain == readLines("\(dir)/s.jsonl.zst", readAhead: true, stopAt: stop))
            #expect(plain == .failure(.badData(path: "\(dir)/s.jsonl.zst", line: stop, detail: "stopped at line \(stop)")))
        }
        #expect(readLines("\(dir)/none.jsonl.zst", readAhead: true) == readLines("\(dir)/none.jsonl.zst", readAhead: false))
    }

    @Test func schemaVersionAndFieldsAreChecked() throws {
        func decode(_ text: String) -> String? {
            var r = Rollout()
            do {
                try Array(text.utf8).withUnsafeBufferPointer { try r.decode($0, as: .verified) }
                return nil
            } catch {
                return "\(error)"
            }
        }
        let good = #"{"schema":"valence.verified/1","run":"0123456789abcdef","step":1,"prompt":0,"sample":0,"a":1,"b":2,"text":"0003","tokens":[0,0,0,3],"logp":[-1,-1,-1,-1],"verdict":"correct","reward":1}"#
        #expect(decode(good) == nil)
        #expect(decode(good.replacingOccurrences(of: "verified/1", with: "verified/2"))?.contains("expected \"valence.verified/1\"") == true)
        #expect(decode(good.replacingOccurrences(of: #""step":1,"#, with: ""))?.contains("missing field \"step\"") == true)
        #expect(decode(good.replacingOccurrences(of: #""step":1"#, with: #""step":"1""#))?.contains("step") == true)
        #expect(decode(good.replacingOccurrences(of: #""reward":1"#, with: #""reward":0"#))?.contains("contradicts") == true)
        #expect(decode(good.replacingOccurrences(of: "[-1,-1,-1,-1]", with: "[-1,-1,-1,1e999]"))?.contains("not a finite") == true)
        #expect(decode(good.replacingOccurrences(of: "[-1,-1,-1,-1]", with: "[-1,-1,-1,NaN]")) != nil)
        #expect(decode(good.replacingOccurrences(of: "[0,0,0,3]", with: "[0,0,0,13]"))?.contains("vocabulary") == true)
        #expect(decode(good + "x") != nil)
    }
}
