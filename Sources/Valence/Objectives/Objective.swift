#if canImport(Glibc)
import Glibc
#endif

/// A policy-gradient objective, defined by the advantage it gives each rollout (docs/model.md 5 table).
public enum Objective: String, Sendable, CaseIterable, Codable {
    case psr
    case nsr
    case reinforce
    case wReinforce = "w-reinforce"
    case grpo
    case rloo
    case drGrpo = "dr-grpo"
    /// Tapered off-policy REINFORCE: negatives are scaled by min(1, pi_theta(y) / pi_gen(y)) of the
    /// whole response under the policy being updated, so weight writes reinforce's +-1 and update
    /// applies the truncated ratio (see ``TOPR``).
    case topr
    /// Token-level advantages r - V(c_ij) from a tabular critic (see ``Critic``).
    case ppo

    /// Which of split's outputs weight must read: PSR never looks at wrong samples, NSR never at
    /// correct ones, and only the group-relative objectives need the per-prompt counts.
    public var readsPositives: Bool { self != .nsr }
    public var readsNegatives: Bool { self != .psr }
    public var readsGroups: Bool {
        switch self {
        case .grpo, .rloo, .drGrpo: return true
        default: return false
        }
    }

    /// Whether the advantage differs per position: weight then writes `adv_tokens`.
    public var hasTokenAdvantages: Bool { self == .ppo }

    /// A_i for a rollout with reward `reward` in a group of `groupSize` with `correct` correct.
    ///
    /// mean and std are over the group's G rewards (population std); a uniform group gives the
    /// group-relative objectives 0. topr gets reinforce's +-1 here (its ratio factor needs the
    /// current policy, so update applies it); ppo gets the return r, from which weight subtracts
    /// the critic's value per token.
    @inline(__always)
    public func advantage(reward: Int, correct: Int, groupSize: Int, lambda: Double) -> Double {
        let r = Double(reward)
        switch self {
        case .psr: return reward == 1 ? 1 : 0
        case .nsr: return reward == 1 ? 0 : -1
        case .reinforce: return reward == 1 ? 1 : -1
        case .wReinforce: return reward == 1 ? lambda : -1
        case .grpo:
            let mean = Double(correct) / Double(groupSize)
            let std = (mean * (1 - mean)).squareRoot()
            return (r - mean) / (std + 1e-6)
        case .rloo:
            return r - Double(correct - reward) / Double(groupSize - 1)
        case .drGrpo:
            return r - Double(correct) / Double(groupSize)
        case .topr: return reward == 1 ? 1 : -1
        case .ppo: return r
        }
    }
}

/// TOPR's negative-sample weight (docs/model.md 5 table).
public enum TOPR {
    /// min(1, pi_theta(y) / pi_gen(y)) over the whole response, from the summed log-ratio. When the
    /// policy has not moved since generation every term is exactly 0, so the weight is exactly 1.
    @inline(__always)
    public static func weight(logRatio: Double) -> Double {
        logRatio >= 0 ? 1 : exp(logRatio)
    }
}
