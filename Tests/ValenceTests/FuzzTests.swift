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
}
