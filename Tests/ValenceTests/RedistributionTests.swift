import Testing
@testable import Valence

/// The mass-redistribution diagnostic on hand-made single rows with known answers.
@Suite struct RedistributionTests {
    static let before: [Double] = [0.4, 0.3, 0.2, 0.1, 0, 0, 0, 0, 0, 0]
    static func mask(_ tokens: Int...) -> UInt16 { tokens.reduce(0) { $0 | (1 << UInt16($1)) } }

    @Test func redistributionByThePrior() throws {
        // Token 0 (penalised) loses 0.2; the others gain in proportion to their prior 0.3 : 0.2 : 0.1.
        let after: [Double] = [0.2, 0.4, 0.2 + 0.2 / 3, 0.1 + 0.1 / 3, 0, 0, 0, 0, 0, 0]
        var d = RedistributionDiagnostic()
        d.add(before: Self.before[...], after: after[...], penalised: Self.mask(0), sampled: Self.mask(0), correct: Self.mask(1))
        #expect(d.rows == 1)
        #expect(abs(d.removed - 0.2) < 1e-12)
        #expect(abs(try #require(d.correlation) - 1) < 1e-9)
        #expect(abs(try #require(d.distance)) < 1e-9)
        // Token 1 is the correct digit: it got half the gain, as its prior share (0.3 of 0.6) says.
        #expect(abs(try #require(d.toCorrect) - 0.5) < 1e-9)
        #expect(abs(try #require(d.priorCorrect) - 0.5) < 1e-9)
    }

    @Test func everythingToOneToken() throws {
        // All 0.2 goes to token 2, nothing to the correct token 1.
        let after: [Double] = [0.2, 0.3, 0.4, 0.1, 0, 0, 0, 0, 0, 0]
        var d = RedistributionDiagnostic()
        d.add(before: Self.before[...], after: after[...], penalised: Self.mask(0), sampled: Self.mask(0), correct: Self.mask(1))
        // Gain shares (0, 1, 0) against prior shares (1/2, 1/3, 1/6): TV = (1/2 + 2/3 + 1/6) / 2 = 2/3.
        #expect(abs(try #require(d.distance) - 2.0 / 3) < 1e-9)
        #expect(try #require(d.toCorrect) == 0)
        #expect(abs(try #require(d.priorCorrect) - 0.5) < 1e-9)
    }

    @Test func knownCorrelation() throws {
        // Unsampled tokens 1, 2, 3 only (4...9 were sampled in correct rollouts): priors 3 : 2 : 1,
        // all the gain to token 3. corr((3,2,1), (0,0,1)) = -sqrt(3)/2.
        let after: [Double] = [0.2, 0.3, 0.2, 0.3, 0, 0, 0, 0, 0, 0]
        var d = RedistributionDiagnostic()
        d.add(before: Self.before[...], after: after[...], penalised: Self.mask(0), sampled: Self.mask(0, 4, 5, 6, 7, 8, 9), correct: 0)
        #expect(abs(try #require(d.correlation) + 3.0.squareRoot() / 2) < 1e-9)
        #expect(d.toCorrect == 0)
    }

    @Test func rowsWithoutANegativeSampleAreIgnored() {
        var d = RedistributionDiagnostic()
        d.add(before: Self.before[...], after: Self.before[...], penalised: 0, sampled: Self.mask(1), correct: Self.mask(1))
        #expect(d.rows == 0)
        #expect(d.correlation == nil && d.distance == nil && d.toCorrect == nil)
    }

    @Test func nsrSgdStepOnASoftmaxRowSharesByThePriorTiltedToLikelyTokens() throws {
        // One SGD step of NSR on token 0 of a real softmax row. Every other logit rises by
        // lr * pi_k, so every other token gains, the shares follow the prior closely, and they are
        // tilted towards the likelier tokens (the "rich get richer" part of docs/model.md 1's analysis).
        let space = try ContextSpace(task: try AddTask(digits: 1), window: 0)
        var policy = TabularPolicy.uniform(space: space)
        let z: [Double] = [2, 1.5, 1, 0.5, 0, -0.5, -1, -1.5, -2, -2.5]
        for k in 0..<10 { policy.logits[k] = z[k] }
        let p0 = policy.probabilities()
        var acc = GradientAccumulator(rowCount: space.rowCount)
        acc.add(row: 0, token: 0, advantage: -1)
        let g = acc.gradient(probabilities: p0, scale: 1)
        for i in policy.logits.indices { policy.logits[i] += 0.1 * g[i] }
        let p1 = policy.probabilities()
        var d = RedistributionDiagnostic()
        d.add(before: p0[0..<10], after: p1[0..<10], penalised: Self.mask(0), sampled: Self.mask(0), correct: Self.mask(1))
        #expect(try #require(d.correlation) > 0.95)
        #expect(try #require(d.distance) < 0.2)
        let gain = (1..<10).reduce(0.0) { $0 + p1[$1] - p0[$1] }
        let prior = (1..<10).reduce(0.0) { $0 + p0[$1] }
        #expect((p1[1] - p0[1]) / gain > p0[1] / prior + 0.05, "the likeliest other token gains more than its prior share")
        #expect(abs(d.removed - (p0[0] - p1[0])) < 1e-15)
        let toCorrect = try #require(d.toCorrect), priorCorrect = try #require(d.priorCorrect)
        #expect(toCorrect > priorCorrect)
    }
}
