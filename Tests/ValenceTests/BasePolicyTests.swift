import Foundation
import Testing
@testable import Valence

/// The base policy (docs/model.md 4): counts of a noisy student, smoothed into softmax rows.
@Suite struct BasePolicyTests {
    @Test func rowsAreProbabilityDistributions() throws {
        let space = try ContextSpace(task: try AddTask(digits: 3), window: 1)
        var builder = BasePolicyBuilder(space: space)
        builder.corpusSize = 2000
        let p = builder.build(seed: 1).probabilities()
        for r in 0..<space.rowCount {
            let row = p[(r * 10)..<(r * 10 + 10)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-12)
            #expect(row.allSatisfy { $0 > 0 })
        }
    }

    @Test func studentThatAlwaysForgetsWritesDigitSumsOnly() throws {
        // f = 1, s = 0: every position writes (a_j + b_j) mod 10; position 0 (0 + 0) always writes 0.
        let space = try ContextSpace(task: try AddTask(digits: 1), window: 0)
        var builder = BasePolicyBuilder(space: space)
        builder.corpusSize = 500
        builder.forget = 1
        builder.noise = 0
        let counts = builder.counts(seed: 4)
        #expect(counts.reduce(0, +) == 500 * 2)
        let row0 = space.rows(a: 0, b: 0)[0]
        #expect(counts[row0 * 10] == 500)
        for a in 0..<10 {
            for b in 0..<10 {
                let row = space.rows(a: a, b: b)[1]
                for k in 0..<10 where k != (a + b) % 10 { #expect(counts[row * 10 + k] == 0) }
            }
        }
    }

    @Test func faithfulStudentWritesTheTrueCarry() throws {
        // f = 0, s = 0 with window 1: the carry into position 0 is visible (h_1), so position 0
        // is exactly 1 when a + b >= 10 and 0 otherwise; other rows see only digit sums.
        let space = try ContextSpace(task: try AddTask(digits: 1), window: 1)
        var builder = BasePolicyBuilder(space: space)
        builder.corpusSize = 800
        builder.forget = 0
        builder.noise = 0
        let counts = builder.counts(seed: 9)
        for a in 0..<10 {
            for b in 0..<10 {
                let rows = space.rows(a: a, b: b)
                let answer = a + b
                for k in 0..<10 where k != answer / 10 { #expect(counts[rows[0] * 10 + k] == 0) }
                for k in 0..<10 where k != answer % 10 { #expect(counts[rows[1] * 10 + k] == 0) }
            }
        }
    }

    @Test func smoothingFormula() throws {
        let space = try ContextSpace(task: try AddTask(digits: 1), window: 0)
        var builder = BasePolicyBuilder(space: space)
        builder.alpha = 0.5
        builder.temperature = 2
        var counts = [Int](repeating: 0, count: space.rowCount * 10)
        counts[0] = 3
        counts[1] = 1
        let policy = builder.policy(fromCounts: counts)
        // (3 + 0.5) / (4 + 5), then log / T.
        #expect(abs(policy.logits[0] - log(3.5 / 9) / 2) < 1e-15)
        #expect(abs(policy.logits[1] - log(1.5 / 9) / 2) < 1e-15)
        #expect(abs(policy.logits[2] - log(0.5 / 9) / 2) < 1e-15)
        // An unseen row is uniform.
        #expect(abs(policy.logits[10] - log(0.1) / 2) < 1e-15)
    }

    @Test func sameSeedSameCorpusOtherSeedOtherCorpus() throws {
        let space = try ContextSpace(task: try AddTask(digits: 2), window: 0)
        var builder = BasePolicyBuilder(space: space)
        builder.corpusSize = 300
        #expect(builder.counts(seed: 1) == builder.counts(seed: 1))
        #expect(builder.counts(seed: 1) != builder.counts(seed: 2))
    }

    @Test func contextRowsAndLabels() throws {
        let space = try ContextSpace(task: try AddTask(digits: 3), window: 1)
        #expect(space.rowCount == 4 * 100 * 3)
        // 345 + 789 -> digits 0345 / 0789; sums at i = 1..3: 10 (h 2), 12 (2), 14 (2); h_4 = 0.
        let rows = space.rows(a: 345, b: 789)
        #expect(rows.map { space.label(row: $0) } == ["j0 a0 b0 h2", "j1 a3 b7 h2", "j2 a4 b8 h2", "j3 a5 b9 h0"])
        let w0 = try ContextSpace(task: try AddTask(digits: 3), window: 0)
        #expect(w0.rows(a: 12, b: 30).map { w0.label(row: $0) } == ["j0 a0 b0", "j1 a0 b0", "j2 a1 b3", "j3 a2 b0"])
        // A sum of exactly 9 gives h = 1.
        #expect(space.label(row: space.rows(a: 45, b: 54)[1]) == "j1 a0 b0 h1")
    }

    @Test func splitIsDisjointAndSeeded() throws {
        let task = try AddTask(digits: 2)
        let s = try task.split(seed: 3, train: 200, test: 100)
        let train = Set(s.train.map { $0.a * 100 + $0.b })
        let test = Set(s.test.map { $0.a * 100 + $0.b })
        #expect(train.count == 200 && test.count == 100)
        #expect(train.isDisjoint(with: test))
        let again = try task.split(seed: 3, train: 200, test: 100)
        #expect(again.train.map { $0.a * 100 + $0.b } == s.train.map { $0.a * 100 + $0.b })
        // Dense case (every pair): still disjoint and complete.
        let dense = try AddTask(digits: 1).split(seed: 1, train: 60, test: 40)
        #expect(Set((dense.train + dense.test).map { $0.a * 10 + $0.b }).count == 100)
        #expect(throws: ValenceError.self) { try AddTask(digits: 1).split(seed: 1, train: 60, test: 41) }
    }
}
