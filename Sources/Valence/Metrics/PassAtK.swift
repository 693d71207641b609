#if canImport(Glibc)
import Glibc
#endif

/// Pass@k, exact from the table or estimated from samples (docs/model.md 6).
public enum PassAtK {
    /// k = 1, 2, 4, ..., 256.
    public static let ks: [Int] = (0...8).map { 1 << $0 }

    /// 1 - (1 - p)^k, computed as 1 - exp(k log1p(-p)) so tiny p keep their precision.
    @inline(__always)
    public static func exact(p: Double, k: Int) -> Double {
        if p >= 1 { return 1 }
        return -expm1(Double(k) * log1p(-p))
    }

    /// Adds ``exact(p:k:)`` for every k in ``ks`` to `sums` (one per k), bit for bit, with one
    /// `log1p` for all of them instead of one each (an eval makes a thousand such calls).
    @inline(__always)
    public static func addExact(p: Double, into sums: inout [Double]) {
        if p >= 1 {
            for i in ks.indices { sums[i] += 1 }
            return
        }
        let logMiss = log1p(-p)
        for (i, k) in ks.enumerated() { sums[i] += -expm1(Double(k) * logMiss) }
    }

    /// The unbiased estimator 1 - C(n-c, k) / C(n, k) from n samples with c correct, as a running
    /// product (never a large binomial).
    public static func unbiased(n: Int, c: Int, k: Int) -> Double {
        precondition(n >= 1 && c >= 0 && c <= n && k >= 1 && k <= n)
        if n - c < k { return 1 }
        // C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i)
        var ratio = 1.0
        var i = n - c + 1
        while i <= n {
            ratio *= 1 - Double(k) / Double(i)
            i += 1
        }
        return 1 - ratio
    }
}
