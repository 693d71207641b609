/// The expected weight of a prompt under an objective whose advantage is a function A(r, c) of a
/// rollout's own reward r and its group's number c of correct rollouts (docs/model.md 8).
///
/// For prompt x with probability p = p_x of its one correct answer, the expectation over the G
/// rollouts of the step gradient of docs/model.md 5.6 is (w / L) s_x, with s_x = grad log p_x and
///
///   w = p (E_k A(1, k + 1) - E_k A(0, k)),  k ~ Binomial(G - 1, p):
///
/// rollout i is correct with probability p (and then its score is s_x), wrong with probability
/// 1 - p (and then its expected score is -p s_x / (1 - p), since the scores average to 0), and the
/// other G - 1 rollouts, independent of it, are correct k ~ Binomial(G - 1, p) times. The first
/// term is the PSR part (correct samples), the second the NSR part (wrong samples). The G rollouts
/// of a prompt each contribute w s_x / (G L), hence w s_x / L per prompt. See docs/mechanism.md.
public struct ExpectedWeight: Sendable, Equatable {
    /// p E_k A(1, k + 1): the correct samples' share.
    public var psr: Double
    /// -p E_k A(0, k): the wrong samples' share.
    public var nsr: Double
    /// psr + nsr, the multiple of s_x / L the prompt contributes to the expected gradient.
    public var total: Double { psr + nsr }

    public init(psr: Double, nsr: Double) {
        self.psr = psr
        self.nsr = nsr
    }

    /// The expected weight for success probability `p`, group size `group` and advantage rule
    /// `advantage(r, c)`. With `filterGroups`, uniform groups (c = 0 or c = G) get A = 0, as weight
    /// drops them. O(G) time (one Binomial pmf and two sums).
    public static func of(p: Double, group: Int, filterGroups: Bool = false,
                          advantage: (_ reward: Int, _ correct: Int) -> Double) -> ExpectedWeight {
        precondition(group >= 1, "group must be >= 1")
        let pmf = Binomial.pmf(n: group - 1, p: p)
        func a(_ r: Int, _ c: Int) -> Double {
            if filterGroups && (c == 0 || c == group) { return 0 }
            return advantage(r, c)
        }
        var correct = 0.0, wrong = 0.0
        for (k, q) in pmf.enumerated() where q != 0 {
            correct += q * a(1, k + 1)
            wrong += q * a(0, k)
        }
        return ExpectedWeight(psr: p * correct, nsr: -p * wrong)
    }
}

extension ExpectedWeight {
    /// The advantage rule A(r, c) a run's objective uses in expected mode: the one place that turns
    /// an objective into the function the expectation needs.
    ///
    /// topr is reinforce here (one minibatch: its ratio is exactly 1). ppo gives the return r: its
    /// critic baseline V(c_ij) multiplies a score of expectation zero, so it drops out and w = p.
    public static func advantageRule(_ config: RunConfig) -> (Int, Int) -> Double {
        let advantage = config.objective.advantages(config), group = config.group
        return { r, c in advantage(r, c, group) }
    }

    /// The expected weight of a prompt of success probability `p` in the run `config`.
    public static func of(p: Double, config: RunConfig) -> ExpectedWeight {
        of(p: p, group: config.group, filterGroups: config.filterGroups, advantage: advantageRule(config))
    }
}
