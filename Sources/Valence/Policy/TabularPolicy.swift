#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// The policy: one softmax row of 10 logits per context (docs/model.md 3).
///
/// Every probability the experiment uses is a row of this table, so a person can read a policy
/// file with jq and see exactly what changed between two checkpoints.
public struct TabularPolicy: Sendable, Equatable {
    public let space: ContextSpace
    /// Row-major logits, `rowCount * 10` values.
    public var logits: [Double] {
        didSet { derived = Derived() }  // no oldValue: mutated in place
    }
    /// ``probabilities(temperature:)`` and ``logProbabilities(temperature:)`` of these logits, once
    /// computed; shared by the copies of this value (a step's policy goes from update to the next
    /// generate, update and eval, which all ask for them), replaced when the logits change.
    private var derived = Derived()

    public static let vocabulary = ContextSpace.vocabulary

    /// The largest logit magnitude a policy file may hold. Far beyond anything training reaches,
    /// and small enough that z / T, softmax and log-probabilities stay finite at every allowed
    /// temperature, so a hand-edited 1e300 is refused instead of turning into NaN downstream.
    public static let maxLogit = 1e6

    public init(space: ContextSpace, logits: [Double]) {
        precondition(logits.count == space.rowCount * TabularPolicy.vocabulary)
        self.space = space
        self.logits = logits
    }

    public static func uniform(space: ContextSpace) -> TabularPolicy {
        TabularPolicy(space: space, logits: [Double](repeating: 0, count: space.rowCount * vocabulary))
    }

    public var rowCount: Int { space.rowCount }

    /// Policies are equal when their contexts and logits are.
    public static func == (a: TabularPolicy, b: TabularPolicy) -> Bool {
        a.space == b.space && a.logits == b.logits
    }

    /// softmax(z / T) for every row.
    ///
    /// - Complexity: O(rows) the first time for a value and temperature, O(1) after.
    public func probabilities(temperature: Double = 1) -> [Double] {
        derived.value(.probabilities, temperature: temperature) { computeProbabilities(temperature: temperature) }
    }

    /// log softmax(z / T) for every row.
    ///
    /// - Complexity: O(rows) the first time for a value and temperature, O(1) after.
    public func logProbabilities(temperature: Double = 1) -> [Double] {
        derived.value(.logProbabilities, temperature: temperature) { computeLogProbabilities(temperature: temperature) }
    }

    func computeProbabilities(temperature: Double) -> [Double] {
        var p = [Double](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { z in
            p.withUnsafeMutableBufferPointer { out in
                for r in 0..<rowCount {
                    TabularPolicy.softmax(z.baseAddress! + r * 10, out.baseAddress! + r * 10, temperature: temperature)
                }
            }
        }
        return p
    }

    func computeLogProbabilities(temperature: Double) -> [Double] {
        var out = [Double](repeating: 0, count: logits.count)
        for r in 0..<rowCount {
            let base = r * 10
            var m = -Double.infinity
            for k in 0..<10 { m = max(m, logits[base + k] / temperature) }
            var sum = 0.0
            for k in 0..<10 { sum += exp(logits[base + k] / temperature - m) }
            let lse = m + log(sum)
            for k in 0..<10 { out[base + k] = logits[base + k] / temperature - lse }
        }
        return out
    }

    /// What ``probabilities(temperature:)`` and ``logProbabilities(temperature:)`` computed for
    /// one value of the logits (a few temperatures at most: a run uses one or two).
    final class Derived: @unchecked Sendable {
        enum Kind { case probabilities, logProbabilities }

        private var values: [(kind: Kind, temperature: Double, value: [Double])] = []
        private let lock = DispatchSemaphore(value: 1)
        static let maxKept = 8

        /// The kept value, or `compute()`'s, kept (computed outside the lock: two threads asking
        /// at once both compute it, with the same result).
        func value(_ kind: Kind, temperature: Double, _ compute: () -> [Double]) -> [Double] {
            lock.wait()
            let kept = values.first { $0.kind == kind && $0.temperature == temperature }?.value
            lock.signal()
            if let kept { return kept }
            let value = compute()
            lock.wait()
            if values.count < Self.maxKept { values.append((kind, temperature, value)) }
            lock.signal()
            return value
        }
    }

    @inline(__always)
    static func softmax(_ z: UnsafePointer<Double>, _ p: UnsafeMutablePointer<Double>, temperature: Double) {
        var m = -Double.infinity
        for k in 0..<10 { m = max(m, z[k] / temperature) }
        var sum = 0.0
        for k in 0..<10 {
            let e = exp(z[k] / temperature - m)
            p[k] = e
            sum += e
        }
        for k in 0..<10 { p[k] /= sum }
    }

    // MARK: Files

    /// Writes `valence.policy/1` rows: `{"schema":..,"row":i,"ctx":"j2 a3 b5","logits":[...]}`.
    /// Given a `writeBehind` queue that is on, the file is compressed and written there
    /// (``ShardWriter``: the summary's size and digest are then 0 until it is).
    @discardableResult
    public func write(to path: String, writeBehind: WriteBehind? = nil) throws -> ShardSummary {
        let writer = try ShardWriter(path: path, level: 1, contexts: .shared, writeBehind: writeBehind)
        try logits.withUnsafeBufferPointer { z in
            try space.writeRows(writer, schema: .policy, payloadBound: 16 + 10 * (JSONCursor.maxDoubleLength + 1)) { c, r in
                c.raw("\"logits\":")
                c.doubleArray(UnsafeBufferPointer(rebasing: z[(r * 10)..<(r * 10 + 10)]))
            }
        }
        return try writer.commit()
    }

    /// Reads a policy file, checking that every row is present once, in order, with its label and
    /// 10 finite logits.
    public static func read(from path: String, space: ContextSpace) throws -> (policy: TabularPolicy, digest: UInt64) {
        var logits = [Double](repeating: 0, count: space.rowCount * 10)
        var row: [Double] = []
        let digest = try space.readRows(path, schema: .policy, payload: "logits", what: "policy",
                                        payload: { s in try s.doubles(into: &row) },
                                        row: { index in
            guard row.count == 10 else { throw RecordError("row \(index) has \(row.count) logits, expected 10") }
            for (k, v) in row.enumerated() {
                guard v.isFinite else { throw RecordError("row \(index) logit \(k) is \(v)") }
                guard abs(v) <= maxLogit else { throw RecordError("row \(index) logit \(k) = \(v) is outside [-1e6, 1e6]") }
                logits[index * 10 + k] = v
            }
        })
        return (TabularPolicy(space: space, logits: logits), digest)
    }
}
