/// Finds the series of a panel that would hide each other: curves that coincide everywhere within
/// a tolerance of the y axis span (by default 0.5%, about one pixel of a panel).
///
/// Coincidence is decided in data units at the x values both series have (at least one is needed),
/// so it does not depend on pixel rounding. O(series^2 x points) per panel: a dozen series of 61
/// points is instant.
public enum CoincidingSeries {
    /// Fraction of the y axis span within which two curves are drawn on top of each other.
    public static let tolerance = 0.005

    /// For each series (by name) that coincides with one drawn before it, the name of the first
    /// such series (its "leader"). Series are considered in `order`; a leader is never itself a member.
    public static func leaders(_ order: [PlotSeries], ySpan: Double) -> [String: String] {
        let limit = tolerance * (ySpan > 0 ? ySpan : 1)
        var result: [String: String] = [:]
        for (j, s) in order.enumerated() {
            for leader in order[..<j] where result[leader.name] == nil && leader.name != s.name {
                if coincide(leader, s, limit: limit) {
                    result[s.name] = leader.name
                    break
                }
            }
        }
        return result
    }

    /// True when both series have finite values at the same x positions and differ by at most `limit` everywhere.
    static func coincide(_ a: PlotSeries, _ b: PlotSeries, limit: Double) -> Bool {
        let pa = a.points.filter { $0.x.isFinite && $0.y.isFinite }
        let pb = b.points.filter { $0.x.isFinite && $0.y.isFinite }
        guard !pa.isEmpty, pa.count == pb.count else { return false }
        for (p, q) in zip(pa, pb) where p.x != q.x || abs(p.y - q.y) > limit { return false }
        return true
    }
}
