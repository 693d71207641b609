import CZstd
import Foundation
import Testing
@testable import Valence

/// Every kind of bad input a person can produce, fed to the real executables: each must be refused
/// with one line naming the file (and line, where there is one), its documented exit code
/// (docs/reliability.md), and no output left behind. Hand edits that keep a shard valid (keys
/// reordered, whitespace added, as jq does) must be accepted.
@Suite struct BadInputTests {
    // MARK: Shards

    @Test func truncatedZstd() throws {
        let run = try ScratchRun(through: "generate")
        let bytes = try run.bytes(run.rollouts)
        try Data(bytes[0..<(bytes.count / 2)]).write(to: URL(fileURLWithPath: run.path(run.rollouts)))
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: nil, says: "truncated")
    }

    /// A shard is a sequence of zstd frames, so a file cut exactly after one is valid zstd with
    /// fewer lines: the reader cannot tell, the record count in the upstream manifest does.
    @Test func truncatedAtFrameBoundary() throws {
        // 12,800 rollouts: about 2.8 MiB of JSONL, 3 frames.
        let run = try ScratchRun(through: "generate", batch: 200, group: 64)
        let bytes = try run.bytes(run.rollouts)
        let first = bytes.withUnsafeBytes { ZSTD_findFrameCompressedSize($0.baseAddress!, $0.count) }
        try #require(ZSTD_isError(first) == 0 && first < bytes.count, "more than one frame")
        try Data(bytes[0..<first]).write(to: URL(fileURLWithPath: run.path(run.rollouts)))
        #expect(try TestSupport.run("/usr/bin/env", ["zstd", "-tq", run.path(run.rollouts)]).status == 0, "valid zstd")
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: nil, says: "but its manifest says 12800")
    }

    @Test func notZstdBytes() throws {
        let run = try ScratchRun(through: "generate")
        try Data("{\"schema\":\"valence.rollout/1\"}\n".utf8).write(to: URL(fileURLWithPath: run.path(run.rollouts)))
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: nil, says: "not a valid zstd shard")
    }

    @Test func emptyShardFile() throws {
        let run = try ScratchRun(through: "generate")
        try Data().write(to: URL(fileURLWithPath: run.path(run.rollouts)))
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: nil, says: "empty file")
    }

    @Test func invalidJSONLine() throws {
        let run = try ScratchRun(through: "generate")
        try run.editLines(run.rollouts) { lines in lines[2] = String(lines[2].dropLast(5)) }
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: 3, says: "invalid JSON")
    }

    @Test(arguments: [
        ("logp", #"missing field "logp""#),
        ("schema", #"missing field "schema""#),
    ])
    func missingField(_ field: String, _ message: String) throws {
        let run = try ScratchRun(through: "generate")
        try run.editLines(run.rollouts) { lines in lines[1] = try jsonEdit(lines[1]) { $0.removeValue(forKey: field) } }
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: 2, says: message)
    }

    @Test(arguments: [
        ("step", "\"1\"", "field \"step\""),
        ("tokens", "\"1134\"", "expected '['"),
        ("prompt", "1.5", "field \"prompt\""),
        ("run", "12345", "expected a string"),
    ])
    func mistypedField(_ field: String, _ value: String, _ message: String) throws {
        let run = try ScratchRun(through: "generate")
        try run.editLines(run.rollouts) { lines in lines[1] = try replaceValue(lines[1], field, with: value) }
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: 2, says: message)
    }

    @Test func unknownSchemaVersion() throws {
        let run = try ScratchRun(through: "generate")
        try run.editLines(run.rollouts) { lines in lines[0] = lines[0].replacingOccurrences(of: "valence.rollout/1", with: "valence.rollout/2") }
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: 1, says: "valence.rollout/2")
    }

    /// JSON has no NaN or infinity: the literals are syntax errors, and numbers that overflow a
    /// Double are refused by the field's range check.
    @Test(arguments: [("1e999", "log-probability inf is not a finite number"), ("-1e999", "log-probability -inf is not"),
                      ("NaN", "invalid JSON at column"), ("-Infinity", "invalid JSON at column")])
    func nonFiniteLogProbabilityInShard(_ value: String, _ message: String) throws {
        let run = try ScratchRun(through: "generate")
        try run.editLines(run.rollouts) { lines in lines[3] = try replaceValue(lines[3], "logp", with: "[\(value),-1.0,-1.0,-1.0]") }
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: 4, says: message)
    }

    /// 1e200 is finite, but Adam would normalise it away while the gradient norm the update
    /// reports overflowed (this trapped before advantages were bounded).
    @Test(arguments: [("1e999", "not a finite number"), ("-1e200", "advantage -1e+200 is outside [-1e9, 1e9]")])
    func nonFiniteOrHugeAdvantageInWeightedShard(_ value: String, _ message: String) throws {
        let run = try ScratchRun(through: "weight")
        let shard = RunLayout.shard(step: 1, "weighted/negative", shard: 0, shards: 1)
        try run.editLines(shard) { lines in lines[0] = try replaceValue(lines[0], "adv", with: value) }
        try run.expectRefused("update", code: 65, file: shard, line: 1, says: message, outputs: "steps/000001/checkpoint")
    }

    @Test(arguments: [("1e999", "row 5 logit 0 is inf"), ("NaN", "invalid JSON at column"),
                      ("1e300", "row 5 logit 0 = 1e+300 is outside [-1e6, 1e6]")])
    func nonFiniteOrHugeLogitInPolicy(_ value: String, _ message: String) throws {
        let run = try ScratchRun(through: nil)
        let policy = RunLayout.policy(0)
        try run.editLines(policy) { lines in lines[5] = try replaceValue(lines[5], "logits", with: "[\(value),0,0,0,0,0,0,0,0,0]") }
        try run.expectRefused("generate", code: 65, file: policy, line: 6, says: message, outputs: "steps/000001/rollouts")
        try run.expectRefused("eval", code: 65, file: policy, line: 6, says: message, step: 0, outputs: "steps/000000/eval")
    }

    @Test func shardAndManifestFromAnotherRun() throws {
        let run = try ScratchRun(through: "generate")
        let other = try ScratchRun(through: "generate", seed: 2)
        for file in [run.rollouts, run.rolloutsManifest] {
            try FileManager.default.removeItem(atPath: run.path(file))
            try FileManager.default.copyItem(atPath: other.path(file), toPath: run.path(file))
        }
        try run.expectRefused("verify", code: 65, file: run.rolloutsManifest, line: nil, says: "manifest belongs to run")
    }

    @Test func shardFromAnotherRun() throws {
        let run = try ScratchRun(through: "generate")
        let other = try ScratchRun(through: "generate", seed: 2)
        try FileManager.default.removeItem(atPath: run.path(run.rollouts))
        try FileManager.default.copyItem(atPath: other.path(run.rollouts), toPath: run.path(run.rollouts))
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: 1, says: "record belongs to run")
    }

    @Test func shardFromAnotherStep() throws {
        let run = try ScratchRun(through: "generate")
        try run.editLines(run.rollouts) { lines in lines = try lines.map { try replaceValue($0, "step", with: "2") } }
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: 1, says: "from step 2, expected step 1")
    }

    @Test func promptsFromAnotherTask() throws {
        let run = try ScratchRun(through: nil)
        let other = try ScratchRun(through: nil, seed: 2)
        let train = RunLayout.taskShard("train")
        try FileManager.default.removeItem(atPath: run.path(train))
        try FileManager.default.copyItem(atPath: other.path(train), toPath: run.path(train))
        try run.expectRefused("generate", code: 65, file: train, line: 1, says: "belongs to task", outputs: "steps/000001/rollouts")
    }

    @Test func missingUpstreamManifest() throws {
        let run = try ScratchRun(through: "generate")
        try FileManager.default.removeItem(atPath: run.path(run.rolloutsManifest))
        try run.expectRefused("verify", code: 66, file: run.rolloutsManifest, line: nil, says: "missing upstream manifest")
    }

    @Test func unknownManifestSchemaVersion() throws {
        let run = try ScratchRun(through: "generate")
        let text = try String(contentsOfFile: run.path(run.rolloutsManifest), encoding: .utf8)
        try text.replacingOccurrences(of: "valence.manifest/1", with: "valence.manifest/9")
            .write(toFile: run.path(run.rolloutsManifest), atomically: true, encoding: .utf8)
        try run.expectRefused("verify", code: 65, file: run.rolloutsManifest, line: nil, says: "valence.manifest/9")
    }

    @Test func duplicateRolloutIds() throws {
        let run = try ScratchRun(through: "generate")
        try run.editLines(run.rollouts) { lines in lines.insert(lines[4], at: 5) }
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: 6, says: "duplicate rollout")
    }

    @Test func droppedRecord() throws {
        let run = try ScratchRun(through: "generate")
        try run.editLines(run.rollouts) { lines in lines.removeLast() }
        try run.expectRefused("verify", code: 65, file: run.rollouts, line: nil, says: "but its manifest says")
    }

    @Test func operandsOutOfRangeInWeightedShard() throws {
        let run = try ScratchRun(through: "weight")
        let shard = RunLayout.shard(step: 1, "weighted/negative", shard: 0, shards: 1)
        try run.editLines(shard) { lines in lines[0] = try replaceValue(lines[0], "a", with: "-5") }
        try run.expectRefused("update", code: 65, file: shard, line: 1, says: "outside", outputs: "steps/000001/checkpoint")
    }

    /// A failed rerun withdraws the stage's old manifest, so downstream stages cannot go on from
    /// outputs made from inputs that have since changed.
    @Test func failedRerunWithdrawsTheOldManifest() throws {
        let run = try ScratchRun(through: "verify")
        let verified = RunLayout.partManifest(step: 1, VerifyStage.directory, shard: 0, shards: 1)
        #expect(FileManager.default.fileExists(atPath: run.path(verified)))
        try run.editLines(run.rollouts) { lines in lines.insert(lines[0], at: 1) }
        let r = try run.stage("verify")
        #expect(r.status == 65)
        #expect(!FileManager.default.fileExists(atPath: run.path(verified)))
        let split = try run.stage("split")
        #expect(split.status == 66)
        #expect(split.stderr.contains(verified))
    }

    // MARK: Configs

    @Test(arguments: [
        ["--lr=-0.1"], ["--lr", "0"], ["--objective", "grpo", "--group", "1"], ["--objective", "rloo", "--group", "1"],
        ["--digits", "7"], ["--digits", "0"], ["--window", "4"], ["--batch", "500"], ["--train", "600000", "--digits", "2"],
        ["--eval-temperature", "0"], ["--base-temperature", "1e-310"], ["--alpha=-1"], ["--lambda", "1e308"],
        ["--forget", "1.5"], ["--shards", "0"], ["--corpus", "0"],
    ])
    func configOutOfRange(_ options: [String]) throws {
        let dir = TestSupport.temporaryDirectory("valence-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try TestSupport.valence("init", ["--run", "\(dir)/run", "--train", "200", "--test", "100", "--batch", "16", "--corpus", "2000", "-q"] + options)
        #expect(r.status == 78, "\(options): \(r.stderr)")
        #expect(r.stderr.hasPrefix("valence-init: error: config: "), "\(options): \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/run"), "a refused config leaves no run directory")
    }

    @Test func handEditedConfigOutOfRange() throws {
        let run = try ScratchRun(through: nil)
        let text = try String(contentsOfFile: run.path("config.json"), encoding: .utf8)
        try text.replacingOccurrences(of: "\"lr\": 0.03", with: "\"lr\": -1.0")
            .write(toFile: run.path("config.json"), atomically: true, encoding: .utf8)
        try run.expectRefused("generate", code: 78, file: "config.json", line: nil, says: "lr = -1.0", outputs: "steps/000001/rollouts")
    }

    @Test func handEditedConfigUnknownName() throws {
        let run = try ScratchRun(through: nil)
        let text = try String(contentsOfFile: run.path("config.json"), encoding: .utf8)
        #expect(text.contains("\"objective\": \""))
        try text.replacingOccurrences(of: "\"objective\": \"", with: "\"objective\": \"x")
            .write(toFile: run.path("config.json"), atomically: true, encoding: .utf8)
        try run.expectRefused("generate", code: 78, file: "config.json", line: nil, says: "unknown objective", outputs: "steps/000001/rollouts")
    }

    @Test func stepOutOfRange() throws {
        let run = try ScratchRun(through: nil)
        try run.expectRefused("generate", code: 78, file: nil, line: nil, says: "step 9 is outside", step: 9, outputs: "steps/000009")
    }

    // MARK: Hand edits that keep a shard valid

    /// jq with sorted keys and added whitespace: verify accepts the shard and writes exactly the
    /// bytes it writes for the untouched one (its records are canonical whatever the input layout).
    @Test func jqEditedShardsAreAccepted() throws {
        let run = try ScratchRun(through: "verify")
        let verified = RunLayout.shard(step: 1, VerifyStage.directory, shard: 0, shards: 1)
        let before = try run.bytes(verified)
        let originalRollouts = try run.bytes(run.rollouts)
        let edited = run.path(run.rollouts) + ".jq"
        let jq = try TestSupport.run("/usr/bin/env", ["bash", "-c",
            "zstd -dc '\(run.path(run.rollouts))' | jq -c -S . | sed 's/,\"/ ,  \"/g; s/\":/\" :\\t/g' | zstd -q -o '\(edited)'"])
        #expect(jq.status == 0, "\(jq.stderr)")
        let editedLine = try TestSupport.zstdLines(edited)[0]
        #expect(editedLine.hasPrefix("{\"a\" :\t"))
        try FileManager.default.removeItem(atPath: run.path(run.rollouts))
        try FileManager.default.moveItem(atPath: edited, toPath: run.path(run.rollouts))
        let again = try run.stage("verify", quiet: false)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("up to date"), "an edited input changes verify's input digest, so it recomputes")
        #expect(try run.bytes(verified) == before)
        // The policy, edited the same way, is accepted by generate.
        let policy = run.path(RunLayout.policy(0))
        let p = try TestSupport.run("/usr/bin/env", ["bash", "-c",
            "zstd -dc '\(policy)' | jq -c -S . | zstd -q -o '\(policy).jq' && mv '\(policy).jq' '\(policy)'"])
        #expect(p.status == 0, "\(p.stderr)")
        // generate's input digest covers the policy bytes, so it recomputes; the logits are the
        // same numbers, so it samples exactly the original rollouts.
        #expect(try run.stage("generate").status == 0)
        #expect(try run.bytes(run.rollouts) == originalRollouts)
    }
}

// MARK: - Helpers

/// A small run (200 train prompts, B = 16, G = 4) in a temporary directory, advanced through step
/// 1's stages up to and including `through` with the real executables; removed when released.
final class ScratchRun {
    let root: String
    let run: String
    let rollouts = RunLayout.shard(step: 1, GenerateStage.directory, shard: 0, shards: 1)
    let rolloutsManifest = RunLayout.partManifest(step: 1, GenerateStage.directory, shard: 0, shards: 1)

    init(through last: String?, seed: Int = 1, objective: String = "w-reinforce", batch: Int = 16, group: Int = 4) throws {
        root = TestSupport.temporaryDirectory("valence-bad")
        run = "\(root)/run"
        let r = try TestSupport.valence("init", ["--run", run, "--seed", String(seed), "--objective", objective, "--steps", "2",
                                                  "--train", "200", "--test", "100", "--batch", String(batch), "--group", String(group),
                                                  "--corpus", "2000", "-q"])
        try #require(r.status == 0, "\(r.stderr)")
        guard let last else { return }
        for stage in ["generate", "verify", "split", "weight", "update", "eval"] {
            let s = try self.stage(stage)
            try #require(s.status == 0, "\(stage): \(s.stderr)")
            if stage == last { break }
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ relative: String) -> String { "\(run)/\(relative)" }

    func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }

    @discardableResult
    func stage(_ tool: String, step: Int = 1, quiet: Bool = true) throws -> TestSupport.Result {
        try TestSupport.valence(tool, ["--run", run, "--step", String(step)] + (quiet ? ["-q"] : []))
    }

    /// Rewrites a shard's decompressed lines (a valid zstd frame again afterwards).
    func editLines(_ relative: String, _ edit: (inout [String]) throws -> Void) throws {
        var lines = try TestSupport.zstdLines(path(relative))
        try edit(&lines)
        let writer = try ShardWriter(path: path(relative))
        for line in lines { try writer.append(line: Array(line.utf8)) }
        try writer.commit()
    }

    /// Runs `tool` and checks the refusal: exit code, one line on stderr naming the file (as
    /// `path:line:` when there is a line) and saying `says`, and nothing in `outputs` (the stage's
    /// output directory, default step 1's verified/): no shard, no manifest, no temporary file.
    func expectRefused(_ tool: String, code: Int32, file: String?, line: Int?, says: String, step: Int = 1,
                       outputs: String = "steps/000001/verified", sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try stage(tool, step: step)
        #expect(r.status == code, "\(tool): \(r.stderr)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(r.stderr)", sourceLocation: sourceLocation)
        let message = String(lines.first ?? "")
        #expect(message.hasPrefix("valence-\(tool): error: "), "\(message)", sourceLocation: sourceLocation)
        if let file {
            let named = line.map { "\(path(file)):\($0): " } ?? "\(path(file)): "
            #expect(message.contains(named), "expected \(named) in: \(message)", sourceLocation: sourceLocation)
        }
        #expect(message.contains(says), "expected \(says) in: \(message)", sourceLocation: sourceLocation)
        let left = (try? FileManager.default.subpathsOfDirectory(atPath: path(outputs))) ?? []
        #expect(left.filter { !$0.hasSuffix("/") && !FileSystem.isDirectory(path("\(outputs)/\($0)")) }.isEmpty,
                "partial output left in \(outputs): \(left)", sourceLocation: sourceLocation)
    }
}

/// Edits one JSON line as a dictionary (key order is not preserved, which readers must accept).
func jsonEdit(_ line: String, _ edit: (inout [String: Any]) -> Void) throws -> String {
    var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    edit(&object)
    return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

/// Replaces the value of `key` (a top-level scalar or flat array) in a compact JSON line with raw text.
func replaceValue(_ line: String, _ key: String, with raw: String) throws -> String {
    let marker = "\"\(key)\":"
    let start = try #require(line.range(of: marker), "no \(key) in \(line)")
    var end = start.upperBound
    var depth = 0, inString = false
    while end < line.endIndex {
        let c = line[end]
        if inString {
            if c == "\"" { inString = false }
        } else if c == "\"" {
            inString = true
        } else if c == "[" || c == "{" {
            depth += 1
        } else if c == "]" || c == "}" {
            if depth == 0 { break }
            depth -= 1
        } else if c == "," && depth == 0 {
            break
        }
        end = line.index(after: end)
    }
    return line.replacingCharacters(in: start.upperBound..<end, with: raw)
}
