#if canImport(Glibc)
import Glibc
#endif

/// The Binomial(n, p) distribution, as the expected weights of docs/model.md 8 need it.
public enum Binomial {
    /// P(k) for k = 0...n, computed in log space: log C(n, k) + k log p + (n - k) log1p(-p).
    ///
    /// log C(n, k) is accumulated as a running sum of log((n - k) / (k + 1)), so there is no
    /// factorial to overflow and no (1 - p)^n to underflow before the terms are combined; p = 0 and
    /// p = 1 give the exact point masses. The terms are exact to a few ulps for n up to thousands
    /// and p down to the smallest normal double. O(n) time and memory.
    public static func pmf(n: Int, p: Double) -> [Double] {
        precondition(n >= 0, "n must be >= 0")
        precondition(p >= 0 && p <= 1, "p must be in [0, 1]")
        var out = [Double](repeating: 0, count: n + 1)
        if p == 0 { out[0] = 1; return out }
        if p == 1 { out[n] = 1; return out }
        let logP = log(p), logQ = log1p(-p)
        var logChoose = 0.0
        for k in 0...n {
            out[k] = exp(logChoose + Double(k) * logP + Double(n - k) * logQ)
            if k < n { logChoose += log(Double(n - k) / Double(k + 1)) }
        }
        return out
    }
}
