import Foundation
import Testing
@testable import Valence

/// ``PromptRows`` (a prompt set's rows, digits and weights, made once per process) against what the
/// metrics worked out per prompt before, and ``PassAtK/addExact(p:into:)`` against
/// ``PassAtK/exact(p:k:)``: the eval's numbers must not move by a bit.
@Suite struct PromptRowsTests {
    static func prompts(count: Int, digits: Int, seed: UInt64) -> [(a: Int, b: Int)] {
        var rng = CounterRNG(seed: seed, purpose: .split)
        let top = (0..<digits).reduce(1) { r, _ in r * 10 }
        return (0..<count).map { _ in (Int(rng.unit() * Double(top)), Int(rng.unit() * Double(top))) }
    }

    @Test(arguments: [(1, 0), (3, 0), (3, 1), (2, 2)])
    func rowsDigitsAndWeightsAreThoseOfEachPrompt(digits: Int, window: Int) throws {
        let space = try ContextSpace(task: try AddTask(digits: digits), window: window)
        let prompts = Self.prompts(count: 300, digits: digits, seed: 11)
        let made = PromptRows(space: space, prompts: prompts)
        let L = space.length
        #expect(made.count == prompts.count && made.length == L)
        // The weights as rowWeights summed them before: visit by visit, in prompt order.
        var weights = [Double](repeating: 0, count: space.rowCount)
        let unit = 1 / Double(prompts.count * L)
        for (i, (a, b)) in prompts.enumerated() {
            let rows = space.rows(a: a, b: b)
            for j in 0..<L {
                #expect(made.rows[i * L + j] == rows[j])
                #expect(made.digits[i * L + j] == space.task.digit(a + b, at: j))
                weights[rows[j]] += unit
            }
        }
        #expect(made.weights.map(\.bitPattern) == weights.map(\.bitPattern))
        #expect(abs(made.weights.reduce(0, +) - 1) < 1e-9)
    }

    @Test func noPromptsWeighNothing() throws {
        let space = try ContextSpace(task: try AddTask(digits: 2), window: 0)
        let made = PromptRows(space: space, prompts: [])
        #expect(made.count == 0 && made.weights == [Double](repeating: 0, count: space.rowCount))
    }

    @Test func addExactIsExactForEveryK() {
        let ps: [Double] = [0, 1e-300, .leastNonzeroMagnitude, 1e-12, 0.001, 0.1, 0.5, 0.999999, 1 - 1e-16, 1, 1.5]
        for p in ps {
            var sums = [Double](repeating: 0.25, count: PassAtK.ks.count)
            PassAtK.addExact(p: p, into: &sums)
            for (i, k) in PassAtK.ks.enumerated() {
                #expect(sums[i].bitPattern == (0.25 + PassAtK.exact(p: p, k: k)).bitPattern, "p \(p), k \(k)")
            }
        }
    }

    /// Every metric of an eval from the prompt rows equals the same sums taken prompt by prompt
    /// with the table's own rows and ``PassAtK/exact(p:k:)`` (the way ``Evaluation`` took them).
    ///
    /// A third of the rows are tied (uniform, or two equal best tokens), so greedy's "ties to the
    /// lowest token" is exercised too.
    @Test func evaluationFromRowsEqualsPerPromptSums() throws {
        let space = try ContextSpace(task: try AddTask(digits: 3), window: 1)
        var rng = CounterRNG(seed: 5, purpose: .split)
        var logits = (0..<(space.rowCount * 10)).map { _ in rng.unit() * 6 - 3 }
        for r in stride(from: 0, to: space.rowCount, by: 3) {
            if r % 2 == 0 {
                for k in 0..<10 { logits[r * 10 + k] = -1 }
            } else {
                logits[r * 10 + 7] = 4
                logits[r * 10 + 2] = 4
            }
        }
        let policy = TabularPolicy(space: space, logits: logits)
        let prompts = Self.prompts(count: 500, digits: 3, seed: 3)
        let T = 0.7
        let e = Evaluation.evaluate(policy: policy, rows: PromptRows(space: space, prompts: prompts), temperature: T)
        let probs = policy.probabilities(temperature: T)
        var pass = [Double](repeating: 0, count: PassAtK.ks.count)
        var entropy = 0.0, greedy = 0
        for (a, b) in prompts {
            var p = 1.0, argmaxRight = true
            for (j, row) in space.rows(a: a, b: b).enumerated() {
                let digit = space.task.digit(a + b, at: j)
                let slice = Array(probs[(row * 10)..<(row * 10 + 10)])
                p *= slice[digit]
                let best = slice.indices.max { slice[$0] < slice[$1] || (slice[$0] == slice[$1] && $0 > $1) } ?? 0
                if best != digit { argmaxRight = false }
                entropy += slice.reduce(0.0) { h, q in q > 0 ? h - q * log(q) : h }
            }
            if argmaxRight { greedy += 1 }
            for (i, k) in PassAtK.ks.enumerated() { pass[i] += PassAtK.exact(p: p, k: k) }
        }
        let n = Double(prompts.count)
        #expect(e.passAtK.map(\.bitPattern) == pass.map { ($0 / n).bitPattern })
        #expect(e.greedy == Double(greedy) / n)
        #expect(e.entropy.bitPattern == (entropy / (n * Double(space.length))).bitPattern)
    }
}
