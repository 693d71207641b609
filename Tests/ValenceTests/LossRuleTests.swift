import Foundation
import Testing
@testable import Valence

/// The loss rules and options beyond PPO's symmetric clip (docs/model.md 5.7): unlikelihood (nsr-ul),
/// asymmetric clipping, KL-Cov and Clip-Cov, each against finite differences of its surrogate, the
/// selected and clipped tokens included; and the covariance selections themselves.
@Suite struct LossRuleTests {
    typealias Sample = UpdateSwitchTests.Sample
    static let space = UpdateSwitchTests.space

    /// A minibatch under a policy that moved away from the generating one, and its rollouts as a
    /// StepBatch (prompt = sample index) in canonical order.
    struct Fixture {
        var current: [Double]
        var samples: [Sample]
        var batch: StepBatch
        var order: [Int]
    }

    static func fixture(seed: UInt64, count: Int = 24, spread: Double = 0.6) -> Fixture {
        var rng = CounterRNG(seed: seed, purpose: .evalSample)
        let current = UpdateSwitchTests.randomLogits(&rng, scale: 1)
        var gen = current
        for i in gen.indices { gen[i] += (rng.unit() * 2 - 1) * spread }
        let samples = UpdateSwitchTests.samples(from: TabularPolicy(space: space, logits: gen), count: count, seed: seed)
        var batch = StepBatch(length: space.length)
        for (i, s) in samples.enumerated() {
            batch.append(prompt: i, sample: 0, reward: s.positive ? 1 : 0, positive: s.positive, rows: s.rows, tokens: s.tokens,
                         logp: s.logp, advantages: s.advantages)
        }
        return Fixture(current: current, samples: samples, batch: batch, order: batch.canonicalOrder())
    }

    /// The surrogate J(z) = scale * sum over tokens, with `selected` the tokens KL-Cov or Clip-Cov
    /// chose at the current z (held fixed, as the selection is not differentiated).
    static func surrogate(_ z: [Double], _ f: Fixture, options: UpdateOptions, selected: [Bool], scale: Double) -> Double {
        let p = TabularPolicy(space: space, logits: z)
        let pi = p.probabilities(), logPi = p.logProbabilities()
        var j = 0.0, t = 0
        for i in f.order {
            let s = f.samples[i]
            for k in s.rows.indices {
                defer { t += 1 }
                let index = s.rows[k] * 10 + s.tokens[k]
                let logRatio = logPi[index] - s.logp[k]
                let rho = exp(logRatio), a = s.advantages[k]
                if options.loss is Unlikelihood && !s.positive {
                    j += abs(a) * log(1 - pi[index])
                    continue
                }
                if let klCov = options.klCov {
                    j += rho * a - (selected[t] ? klCov.coef * abs(logRatio) : 0)
                    continue
                }
                if options.clipCov != nil && selected[t] { continue }   // gradient 0: a constant
                if options.clipLow != nil || options.clipHigh != nil {
                    let lo = 1 - (options.clipLow ?? 1e9), hi = 1 + (options.clipHigh ?? 1e9)
                    j += min(rho * a, min(max(rho, lo), hi) * a)
                } else {
                    j += rho * a
                }
            }
        }
        return scale * j
    }

    /// Checks the analytic gradient against central differences; returns the gradient for stats.
    @discardableResult
    static func check(_ options: UpdateOptions, seed: UInt64, spread: Double = 0.6) -> (MinibatchGradient, [Bool]) {
        let f = fixture(seed: seed, spread: spread)
        var g = MinibatchGradient(policy: TabularPolicy(space: space, logits: f.current), options: options)
        let selection = g.selection(batch: f.batch, minibatch: f.order, seed: seed, step: 3, index: 1)
        var scratch = StepBatch.Scratch()
        f.batch.add(minibatch: f.order, to: &g, selection: selection, scratch: &scratch)
        let selected = selection?.selected ?? [Bool](repeating: false, count: f.order.count * space.length)
        let scale = 1.0 / 16
        let analytic = g.gradient(scale: scale).total
        let h = 1e-6
        var worst = 0.0
        for r in Set(f.samples.flatMap(\.rows)).sorted() {
            for k in 0..<10 {
                var up = f.current, down = f.current
                up[r * 10 + k] += h
                down[r * 10 + k] -= h
                let fd = (surrogate(up, f, options: options, selected: selected, scale: scale)
                          - surrogate(down, f, options: options, selected: selected, scale: scale)) / (2 * h)
                worst = max(worst, abs(fd - analytic[r * 10 + k]))
            }
        }
        #expect(worst < 1e-7, "largest |finite difference - gradient| = \(worst)")
        return (g, selected)
    }

    @Test func unlikelihoodGradientMatchesFiniteDifferences() {
        var options = UpdateOptions()
        options.loss = Unlikelihood()
        Self.check(options, seed: 21)
        // On policy the wrong samples' weight is -|A| pi/(1 - pi): NSR's push scaled per token.
        let f = Self.fixture(seed: 22, spread: 0)
        let pi = TabularPolicy(space: Self.space, logits: f.current).probabilities()
        let s = f.samples.first { !$0.positive }!
        var ul = MinibatchGradient(policy: TabularPolicy(space: Self.space, logits: f.current), options: options)
        ul.add(rows: [s.rows[0]], tokens: [s.tokens[0]], logp: [s.logp[0]], advantages: [s.advantages[0]], positive: false)
        var plain = MinibatchGradient(policy: TabularPolicy(space: Self.space, logits: f.current), options: UpdateOptions())
        let p = pi[s.rows[0] * 10 + s.tokens[0]]
        plain.add(rows: [s.rows[0]], tokens: [s.tokens[0]], logp: [s.logp[0]], advantages: [s.advantages[0]], positive: false)
        let a = ul.gradient(scale: 1).total, b = plain.gradient(scale: 1).total
        for i in a.indices where b[i] != 0 { #expect(abs(a[i] - b[i] * p / (1 - p)) < 1e-12) }
    }

    @Test func asymmetricClipMatchesFiniteDifferencesIncludingClippedTokens() {
        var options = UpdateOptions()
        options.clipLow = 0.1
        options.clipHigh = 0.35
        let (g, _) = Self.check(options, seed: 23)
        #expect(g.clipped > 0 && g.clipped < g.tokens)
        // Clip-higher clips fewer tokens than the symmetric 0.1 and more than the symmetric 0.35.
        var narrow = UpdateOptions(), wide = UpdateOptions()
        narrow.clip = 0.1
        wide.clip = 0.35
        let n = Self.check(narrow, seed: 23).0.clipped, w = Self.check(wide, seed: 23).0.clipped
        #expect(w <= g.clipped && g.clipped <= n && w < n)
    }

    @Test func klCovMatchesFiniteDifferencesOnSelectedTokens() {
        var options = UpdateOptions()
        options.klCov = (ratio: 0.2, coef: 0.7)
        let (g, selected) = Self.check(options, seed: 25)
        let count = selected.filter { $0 }.count
        #expect(count == Int(0.2 * Double(selected.count)))
        #expect(g.covSelected == count && g.clipped == 0)
        // The penalty changes the gradient: without it the same tokens give another one.
        var none = UpdateOptions()
        none.klCov = (ratio: 0.2, coef: 0)
        let f = Self.fixture(seed: 25)
        func grad(_ o: UpdateOptions) -> [Double] {
            var m = MinibatchGradient(policy: TabularPolicy(space: Self.space, logits: f.current), options: o)
            var scratch = StepBatch.Scratch()
            f.batch.add(minibatch: f.order, to: &m, selection: m.selection(batch: f.batch, minibatch: f.order, seed: 1, step: 1, index: 0),
                        scratch: &scratch)
            return m.gradient(scale: 1).total
        }
        #expect(grad(options) != grad(none))
    }

    @Test func klCovSelectsTheLargestCovariancesWithTiesInTokenOrder() {
        let cov = [0.5, 2.0, -1.0, 2.0, 0.1, 3.0]
        #expect(KLCov.select(covariances: cov, ratio: 0.5) == [5, 1, 3])
        #expect(KLCov.select(covariances: cov, ratio: 0.0001) == [5])   // at least one
    }

    @Test func clipCovMatchesFiniteDifferencesOnSelectedAndClippedTokens() {
        var options = UpdateOptions()
        options.clip = 0.2
        options.clipCov = (ratio: 0.25, lower: -1e6, upper: 1e6)
        let (g, selected) = Self.check(options, seed: 27)
        #expect(g.clipped > 0)
        #expect(g.covSelected == selected.filter { $0 }.count && g.covSelected == Int(0.25 * Double(selected.count)))
    }

    @Test func clipCovDrawsOnlyUnclippedTokensInsideTheBoundsSeeded() {
        let cov = [0.5, 2.0, 1.5, 4.9, 5.0, 1.0, 3.0, 2.5]
        let clipped = [false, false, true, false, false, false, false, false]
        var seen: Set<Int> = []
        for s in 0..<50 as Range<UInt64> {
            var rng = CounterRNG(seed: s, purpose: .clipCov, 3, 1)
            let pick = ClipCov.select(covariances: cov, clipped: clipped, ratio: 0.25, lower: 1, upper: 5, rng: &rng)
            #expect(pick.count == 2)
            for t in pick { #expect([1, 3, 6, 7].contains(t)); seen.insert(t) }
            var again = CounterRNG(seed: s, purpose: .clipCov, 3, 1)
            #expect(ClipCov.select(covariances: cov, clipped: clipped, ratio: 0.25, lower: 1, upper: 5, rng: &again) == pick)
        }
        #expect(seen == [1, 3, 6, 7], "every candidate is drawn for some seed")
    }
}
