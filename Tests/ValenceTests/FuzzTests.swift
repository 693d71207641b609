import Foundation
import Testing
@testable import Valence

/// The short fuzz run of `make test`: seeded random mutations of valid shards, records, policies,
/// manifests, configs and verifier inputs through ``DecoderFuzzing`` (the same harness `make fuzz`
/// drives with libFuzzer for 1M inputs). Every input must be accepted or refused with a typed
/// error; a trap would end the test process, which `swift test` reports as a failure.
///
/// VALENCE_FUZZ_RUNS and VALENCE_FUZZ_SEED override the count and seed (the fallback of
/// `make fuzz` where libFuzzer does not build).
/// Serialized: the harness shares one number cache across inputs (as libFuzzer's single thread
/// does), so two of these tests must not run it at once.
@Suite(.serialized) struct FuzzTests {
    static var runs: Int { ProcessInfo.processInfo.environment["VALENCE_FUZZ_RUNS"].flatMap(Int.init) ?? 30_000 }
    static var seed: UInt64 { ProcessInfo.processInfo.environment["VALENCE_FUZZ_SEED"].flatMap(UInt64.init) ?? 1 }

    @Test func seedsAreAcceptedWhereValid() throws {
        let dir = TestSupport.temporaryDirectory("valence-fuzz")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for seed in DecoderFuzzing.seeds() {
            try seed.withUnsafeBufferPointer { try DecoderFuzzing.run($0, scratch: "\(dir)/scratch") }
        }
    }

    @Test func seededMutationRun() throws {
        let dir = TestSupport.temporaryDirectory("valence-fuzz")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var mutator = DecoderFuzzing.Mutator(seed: FuzzTests.seed)
        var targets = [Int](repeating: 0, count: DecoderFuzzing.Target.allCases.count)
        for i in 0..<FuzzTests.runs {
            let input = mutator.next()
            targets[Int(input[0]) % targets.count] += 1
            do {
                try input.withUnsafeBufferPointer { try DecoderFuzzing.run($0, scratch: "\(dir)/scratch") }
            } catch {
                Issue.record("input \(i) (seed \(FuzzTests.seed)): \(error); bytes \(input)")
                return
            }
        }
        // Every target was exercised.
        #expect(targets.allSatisfy { $0 > 0 })
    }

    /// `make fuzz` compiles the library's sources with swiftc itself (Tests/fuzz/fuzz.sh), outside
    /// SwiftPM: every C module the package declares must be on its include path. (One was not, from
    /// the round that added CSyscalls until round 9, and `make fuzz` failed to compile.)
    @Test func theFuzzBuildReachesEveryCModuleOfThePackage() throws {
        let package = try String(contentsOfFile: "\(TestSupport.repoRoot)/Package.swift", encoding: .utf8)
        let script = try String(contentsOfFile: "\(TestSupport.repoRoot)/Tests/fuzz/fuzz.sh", encoding: .utf8)
        let declared = try NSRegularExpression(pattern: #"\.systemLibrary\(\s*name:\s*"([^"]+)""#)
        let modules = declared.matches(in: package, range: NSRange(package.startIndex..., in: package)).compactMap {
            Range($0.range(at: 1), in: package).map { String(package[$0]) }
        }
        #expect(modules.count >= 2, "CZstd and CSyscalls at least: \(modules)")
        for module in modules {
            #expect(script.contains(#"-I "$ROOT/Sources/\#(module)""#), "fuzz.sh does not pass -I for \(module)")
        }
    }
}
