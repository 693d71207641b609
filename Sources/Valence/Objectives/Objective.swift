#if canImport(Glibc)
import Glibc
#endif

/// A policy-gradient objective, defined by the advantage it gives each rollout (SPEC 5 table).
public enum Objective: String, Sendable, CaseIterable, Codable {
    case psr
    case nsr
    case reinforce
    case wReinforce = "w-reinforce"
    case grpo
    case rloo
    case drGrpo = "dr-grpo"

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

    /// A_i for a rollout with reward `reward` in a group of `groupSize` with `correct` correct.
    ///
    /// mean and std are over the group's G rewards (population std); a uniform group gives the
    /// group-relative objectives 0.
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
        }
    }
}
