import Foundation
import Testing
@testable import Valence

/// passk's advantages (docs/model.md 5 table) against brute force over every size-k subset of a group.
@Suite struct PassKAdvantageTests {
    /// Every size-k subset of 0..<n (lexicographic).
    static func subsets(_ n: Int, _ k: Int) -> [[Int]] {
        if k == 0 { return [[]] }
        if n < k { return [] }
        return subsets(n - 1, k) + subsets(n - 1, k - 1).map { $0 + [n - 1] }
    }

    /// A_i = (mean over subsets holding i of max reward - mean over all subsets of max reward) / (sigma + 1e-6).
    static func bruteForce(rewards: [Int], k: Int) -> [Double] {
        let all = subsets(rewards.count, k)
        let value = { (s: [Int]) -> Double in s.contains { rewards[$0] == 1 } ? 1 : 0 }
        let rho = all.map(value).reduce(0, +) / Double(all.count)
        let sigma = (rho * (1 - rho)).squareRoot()
        return rewards.indices.map { i in
            let mine = all.filter { $0.contains(i) }
            let m = mine.map(value).reduce(0, +) / Double(mine.count)
            return (m - rho) / (sigma + 1e-6)
        }
    }

    @Test(arguments: [(8, 4), (8, 1), (8, 8), (6, 3), (5, 2), (10, 4)])
    func matchesBruteForceOverSubsets(group: Int, k: Int) {
        for correct in 0...group {
            let rewards = (0..<group).map { $0 < correct ? 1 : 0 }
            let expected = Self.bruteForce(rewards: rewards, k: k)
            for (i, r) in rewards.enumerated() {
                let a = PassK.advantage(reward: r, correct: correct, groupSize: group, k: k)
                #expect(abs(a - expected[i]) < 1e-9, "G \(group) k \(k) c \(correct) r \(r): \(a) vs \(expected[i])")
            }
        }
    }

    @Test func registryObjectiveUsesTheRunsK() throws {
        var c = RunConfig()
        c.objective = try #require(Objective(rawValue: "passk"))
        c.setParameter(PassK.kField, .int(2))
        let bound = c.objective.advantages(c)
        #expect(bound(0, 3, 8) == PassK.advantage(reward: 0, correct: 3, groupSize: 8, k: 2))
        #expect(bound(0, 3, 8) != PassK.advantage(reward: 0, correct: 3, groupSize: 8, k: 4))
        // k > G is refused.
        c.setParameter(PassK.kField, .int(9))
        #expect(throws: ValenceError.self) { try c.validate() }
    }
}
