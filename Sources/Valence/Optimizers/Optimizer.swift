/// The optimizer kind a run uses (docs/model.md 5.6): all take ascent steps on J.
public enum OptimizerKind: String, Sendable, CaseIterable {
    case sgd
    case adam
    /// Adam with decoupled weight decay: z <- z (1 - lr wd) + lr m_hat / (sqrt(v_hat) + eps).
    case adamw

    /// docs/model.md defaults: 1.0 for sgd, 0.03 for adam (and adamw).
    public var defaultLearningRate: Double { self == .sgd ? 1.0 : 0.03 }

    /// Whether the optimizer keeps Adam's first and second moments.
    public var hasMoments: Bool { self != .sgd }

    /// adamw's weight decay when none is given.
    public static let defaultWeightDecay = 0.01
}

/// Adam's moments over the whole table, and how many steps have been taken.
///
/// Rows that get no gradient in a step still take it: their moments decay (docs/model.md 6). SGD keeps no
/// state beyond the step count, so its state file carries `t` only.
public struct OptimizerState: Sendable, Equatable {
    public var kind: OptimizerKind
    /// Steps taken so far; the next step uses t + 1 (docs/model.md: Adam's counter starts at 1).
    public var t: Int
    public var m: [Double]
    public var v: [Double]

    public static let beta1 = 0.9
    public static let beta2 = 0.999
    public static let epsilon = 1e-8

    public init(kind: OptimizerKind, parameterCount: Int) {
        self.kind = kind
        t = 0
        m = kind.hasMoments ? [Double](repeating: 0, count: parameterCount) : []
        v = m
    }

    /// One ascent step: z += lr * g (sgd), z += lr * m_hat / (sqrt(v_hat) + eps) (adam), or adamw:
    /// z <- z * (1 - lr * wd) + lr * m_hat / (sqrt(v_hat) + eps), the decay applied first as in
    /// PyTorch's AdamW. `weightDecay` is ignored by sgd and adam.
    public mutating func step(parameters z: inout [Double], gradient g: [Double], learningRate lr: Double,
                              weightDecay: Double = 0) {
        precondition(z.count == g.count)
        t += 1
        switch kind {
        case .sgd:
            for i in z.indices { z[i] += lr * g[i] }
        case .adam, .adamw:
            let decay = kind == .adamw ? 1 - lr * weightDecay : 1
            let b1 = OptimizerState.beta1, b2 = OptimizerState.beta2
            var p1 = 1.0, p2 = 1.0
            for _ in 0..<t { p1 *= b1; p2 *= b2 }
            let c1 = 1 - p1, c2 = 1 - p2
            for i in z.indices {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                let mHat = m[i] / c1
                let vHat = v[i] / c2
                if kind == .adamw { z[i] *= decay }
                z[i] += lr * mHat / (vHat.squareRoot() + OptimizerState.epsilon)
            }
        }
    }

    // MARK: Files

    /// Writes `valence.adam/1` rows keyed like the policy (`{"row","ctx","t","m","v"}`); for sgd a
    /// single row with `t` only.
    @discardableResult
    public func write(to path: String, space: ContextSpace) throws -> ShardSummary {
        let writer = try ShardWriter(path: path)
        let t = t, moments = kind.hasMoments
        try m.withUnsafeBufferPointer { m in
            try v.withUnsafeBufferPointer { v in
                try space.writeRows(writer, schema: .adam, fields: ",\"optimizer\":\"\(kind.rawValue)\"",
                                    rows: moments ? space.rowCount : 1,
                                    payloadBound: 32 + JSONCursor.maxIntLength + 20 * (JSONCursor.maxDoubleLength + 1)) { c, r in
                    c.raw("\"t\":")
                    c.int(t)
                    guard moments else { return }
                    let s = (r * 10)..<(r * 10 + 10)
                    c.raw(",\"m\":")
                    c.doubleArray(UnsafeBufferPointer(rebasing: m[s]))
                    c.raw(",\"v\":")
                    c.doubleArray(UnsafeBufferPointer(rebasing: v[s]))
                }
            }
        }
        return try writer.commit()
    }

    public static func read(from path: String, kind: OptimizerKind, space: ContextSpace) throws -> (state: OptimizerState, digest: UInt64) {
        var state = OptimizerState(kind: kind, parameterCount: space.rowCount * 10)
        let expectedRows = kind.hasMoments ? space.rowCount : 1
        var next = 0
        var mRow: [Double] = []
        var vRow: [Double] = []
        let summary = try ShardReader.forEachLine(path) { line, _ in
            var s = JSONScanner(line)
            var seen = FieldSet()
            var index = -1
            var t = 0
            try s.beginObject()
            while let key = try s.nextKey() {
                if key == "schema" { try seen.insert(1); try Schema.check(try s.stringBytes(), expected: .adam) }
                else if key == "optimizer" {
                    try seen.insert(2)
                    let name = try s.string()
                    guard name == kind.rawValue else { throw RecordError("optimizer state is for \(name), the run uses \(kind.rawValue)") }
                }
                else if key == "row" { try seen.insert(4); index = try s.intField("row") }
                else if key == "t" { try seen.insert(8); t = try s.intField("t") }
                else if key == "m" { try seen.insert(16); try s.doubles(into: &mRow) }
                else if key == "v" { try seen.insert(32); try s.doubles(into: &vRow) }
                else { try s.skipValue() }
            }
            try s.finish()
            try seen.require(1, "schema")
            try seen.require(2, "optimizer")
            try seen.require(4, "row")
            try seen.require(8, "t")
            guard index == next, index < expectedRows else { throw RecordError("row \(index) out of order: expected \(next)") }
            guard t >= 0 else { throw RecordError("step count t = \(t) is negative") }
            if next > 0 && t != state.t { throw RecordError("row \(index) has t = \(t), earlier rows \(state.t)") }
            state.t = t
            if kind.hasMoments {
                try seen.require(16, "m")
                try seen.require(32, "v")
                guard mRow.count == 10, vRow.count == 10 else { throw RecordError("row \(index) needs 10 values in m and v") }
                for k in 0..<10 {
                    guard mRow[k].isFinite, vRow[k].isFinite, vRow[k] >= 0 else {
                        throw RecordError("row \(index) has a non-finite or negative moment")
                    }
                    state.m[index * 10 + k] = mRow[k]
                    state.v[index * 10 + k] = vRow[k]
                }
            }
            next += 1
        }
        guard next == expectedRows else {
            throw ValenceError.badData(path: path, line: nil, detail: "optimizer state has \(next) rows, expected \(expectedRows)")
        }
        return (state, summary.digest)
    }
}
