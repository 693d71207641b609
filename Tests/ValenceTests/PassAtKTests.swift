import Foundation
import Testing
@testable import Valence

/// Exact Pass@k against brute-force enumeration, and the unbiased estimator against exact binomials.
@Suite struct PassAtKTests {
    /// A tiny random table: nd = 1 (L = 2), window 0, 200 rows.
    func tinyPolicy(seed: UInt64) throws -> TabularPolicy {
        let space = try ContextSpace(task: try AddTask(digits: 1), window: 0)
        var rng = CounterRNG(seed: seed, purpose: .split)
        let logits = (0..<(space.rowCount * 10)).map { _ in rng.unit() * 4 - 2 }
        return TabularPolicy(space: space, logits: logits)
    }

    /// P(at least one of k independent responses is correct), by enumerating every tuple of k
    /// responses (10^(L k) outcomes).
    func bruteForcePass(policy: TabularPolicy, a: Int, b: Int, k: Int) -> Double {
        let space = policy.space
        let probs = policy.probabilities()
        let rows = space.rows(a: a, b: b)
        let L = space.length
        let responses = Int(pow10(L))
        func probability(_ response: Int) -> Double {
            var p = 1.0
            var r = response
            for j in stride(from: L - 1, through: 0, by: -1) {
                p *= probs[rows[j] * 10 + r % 10]
                r /= 10
            }
            return p
        }
        var total = 0.0
        var tuple = [Int](repeating: 0, count: k)
        let outcomes = Int(pow10(L * k))
        for _ in 0..<outcomes {
            var p = 1.0
            var anyCorrect = false
            for response in tuple {
                p *= probability(response)
                if response == a + b { anyCorrect = true }
            }
            if anyCorrect { total += p }
            // next tuple
            var i = 0
            while i < k {
                tuple[i] += 1
                if tuple[i] < responses { break }
                tuple[i] = 0
                i += 1
            }
        }
        return total
    }

    func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { r, _ in r * 10 } }

    @Test(arguments: [1, 2])
    func exactMatchesBruteForce(k: Int) throws {
        let policy = try tinyPolicy(seed: 7)
        let prompts = [(a: 3, b: 4), (a: 9, b: 9), (a: 0, b: 0), (a: 5, b: 7)]
        let eval = Evaluation.evaluate(policy: policy, prompts: prompts)
        let index = PassAtK.ks.firstIndex(of: k)!
        let brute = prompts.map { bruteForcePass(policy: policy, a: $0.a, b: $0.b, k: k) }.reduce(0, +) / Double(prompts.count)
        #expect(abs(eval.passAtK[index] - brute) < 1e-12)
    }

    @Test func passAtKIsMonotoneAndBounded() throws {
        let policy = try tinyPolicy(seed: 3)
        let prompts = (0..<10).flatMap { a in (0..<10).map { b in (a: a, b: b) } }
        let e = Evaluation.evaluate(policy: policy, prompts: prompts)
        for i in 1..<e.passAtK.count { #expect(e.passAtK[i] >= e.passAtK[i - 1]) }
        #expect(e.passAtK.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func tinyProbabilitiesKeepPrecision() {
        // 1 - (1 - 1e-12)^1 must be 1e-12 to ~1e-4 relative, which naive pow loses.
        #expect(abs(PassAtK.exact(p: 1e-12, k: 1) - 1e-12) < 1e-22)
        #expect(abs(PassAtK.exact(p: 1e-12, k: 256) - 256e-12) / 256e-12 < 1e-6)
        #expect(PassAtK.exact(p: 1, k: 4) == 1)
        #expect(PassAtK.exact(p: 0, k: 4) == 0)
    }

    /// C(n, k) exactly, for small n.
    func binomial(_ n: Int, _ k: Int) -> Double {
        if k < 0 || k > n { return 0 }
        var r = 1.0
        for i in 0..<k { r = r * Double(n - i) / Double(i + 1) }
        return r.rounded()
    }

    @Test func unbiasedEstimatorMatchesClosedForm() {
        for n in 1...12 {
            for c in 0...n {
                for k in 1...n {
                    let closed = 1 - binomial(n - c, k) / binomial(n, k)
                    #expect(abs(PassAtK.unbiased(n: n, c: c, k: k) - closed) < 1e-12, "n \(n) c \(c) k \(k)")
                }
            }
        }
    }

    @Test func unbiasedEstimatorIsStableForLargeN() {
        // C(1024, 256) overflows a Double; the running product does not.
        let v = PassAtK.unbiased(n: 1024, c: 3, k: 256)
        let expected = 1 - (1 - 256.0 / 1022) * (1 - 256.0 / 1023) * (1 - 256.0 / 1024)
        #expect(abs(v - expected) < 1e-12)
        #expect(PassAtK.unbiased(n: 1024, c: 1000, k: 256) == 1)
    }

    @Test func greedyAndEntropyOnAKnownTable() throws {
        // All rows certain of the correct digit except ties, which go to the lowest token.
        let space = try ContextSpace(task: try AddTask(digits: 1), window: 1)
        var logits = [Double](repeating: 0, count: space.rowCount * 10)
        for a in 0..<10 {
            for b in 0..<10 {
                let rows = space.rows(a: a, b: b)
                let answer = a + b
                for j in 0..<2 { logits[rows[j] * 10 + (j == 0 ? answer / 10 : answer % 10)] = 100 }
            }
        }
        let policy = TabularPolicy(space: space, logits: logits)
        let prompts = (0..<10).flatMap { a in (0..<10).map { b in (a: a, b: b) } }
        let e = Evaluation.evaluate(policy: policy, prompts: prompts)
        #expect(e.greedy == 1)
        #expect(e.entropy < 1e-30)
        #expect(e.passAtK.allSatisfy { abs($0 - 1) < 1e-12 })
        let uniform = Evaluation.evaluate(policy: .uniform(space: space), prompts: prompts)
        #expect(abs(uniform.entropy - log(10.0)) < 1e-12)
        #expect(abs(uniform.passAtK[0] - 0.01) < 1e-12)
        // Uniform rows tie everywhere: greedy writes 00, correct only for 0 + 0.
        #expect(uniform.greedy == 0.01)
    }
}
