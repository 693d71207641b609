/// What a random draw is for. Each purpose has its own stream, so adding draws for one purpose
/// never shifts the numbers of another (docs/model.md 7).
public enum Purpose: UInt64, Sendable {
    case split = 1       // train/test prompt sets
    case corpus = 2      // the noisy student's corpus for the base policy
    case batch = 3       // a step's prompt draw
    case rollout = 4     // one rollout's tokens
    case minibatch = 5   // the minibatch shuffle of a step
    case evalSample = 6  // sampled Pass@k rollouts
    case clipCov = 7     // Clip-Cov's token draw of a step's minibatch
}

/// A counter-based generator: its stream is a pure function of (seed, purpose, a, b, c).
///
/// The key is folded with the SplitMix64 finalizer, one round per component with a distinct odd
/// multiplier, and the stream is SplitMix64 from that state. Rollout `s` of prompt `x` at step
/// `t` uses `(seed, .rollout, t, x, s)`, so it is the same in any shard, order or thread.
public struct CounterRNG: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    @inline(__always)
    public static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    @inline(__always)
    public init(seed: UInt64, purpose: Purpose, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        var h = CounterRNG.mix(seed &+ 0x9e37_79b9_7f4a_7c15)
        h = CounterRNG.mix(h ^ (purpose.rawValue &* 0xd6e8_feb8_6659_fd93))
        h = CounterRNG.mix(h ^ (a &* 0xa076_1d64_78bd_642f))
        h = CounterRNG.mix(h ^ (b &* 0xe703_7ed1_a0b4_28db))
        h = CounterRNG.mix(h ^ (c &* 0x8ebc_6af0_9c88_c6e3))
        state = h
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        return CounterRNG.mix(state)
    }

    /// A uniform double in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A uniform integer in [0, n), unbiased (Lemire's multiply-and-reject).
    @inline(__always)
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }
}
