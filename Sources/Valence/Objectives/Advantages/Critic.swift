/// ppo's tabular critic: one value V[c] per context row, the expected reward of a rollout that
/// visits c (docs/model.md 5 table; gamma = lambda = 1, so the target of every position is the final reward).
///
/// V starts at 0. After a step's policy update, each visited row moves toward the mean reward of
/// that step's visits: V[c] += lr * mean over visits (i, j) of c of (r_i - V[c]). Rows the step did
/// not visit keep their value. The file is one readable row per context, beside the policy.
public struct Critic: Sendable, Equatable {
    public let space: ContextSpace
    public var values: [Double]

    public init(space: ContextSpace) {
        self.space = space
        values = [Double](repeating: 0, count: space.rowCount)
    }

    /// A_ij = r_i - V(c_ij) for every position of one rollout.
    @inline(__always)
    public func advantages(reward: Int, rows: [Int], into out: inout [Double]) {
        out.removeAll(keepingCapacity: true)
        for row in rows { out.append(Double(reward) - values[row]) }
    }

    /// Collects a step's visits, in canonical order, for one critic update.
    public struct Visits: Sendable {
        var residualSums: [Double]
        var counts: [Int]

        public init(rowCount: Int) {
            residualSums = [Double](repeating: 0, count: rowCount)
            counts = [Int](repeating: 0, count: rowCount)
        }

        /// One rollout: every position's row gets a visit with target `reward`.
        @inline(__always)
        public mutating func add(critic: Critic, rows: [Int], reward: Int) {
            for row in rows {
                residualSums[row] += Double(reward) - critic.values[row]
                counts[row] += 1
            }
        }
    }

    /// V[c] += lr * mean residual of c, for every row with at least one visit.
    public mutating func update(with visits: Visits, learningRate lr: Double) {
        for r in values.indices where visits.counts[r] > 0 {
            values[r] += lr * visits.residualSums[r] / Double(visits.counts[r])
        }
    }

    // MARK: Files

    /// Writes `valence.critic/1` rows: `{"schema":..,"row":i,"ctx":"j2 a3 b5","v":0.25}`.
    @discardableResult
    public func write(to path: String) throws -> ShardSummary {
        let writer = try ShardWriter(path: path)
        let labels = space.labels
        for r in values.indices {
            writer.json.beginObject()
            writer.json.key("schema"); writer.json.string(Schema.critic.rawValue)
            writer.json.key("row"); writer.json.int(r)
            writer.json.key("ctx"); writer.json.string(labels[r])
            writer.json.key("v"); writer.json.double(values[r])
            writer.json.endObject()
            try writer.endRecord()
        }
        return try writer.commit()
    }

    /// Reads a critic file, checking that every row is present once, in order, with its label and
    /// a finite value.
    public static func read(from path: String, space: ContextSpace) throws -> Critic {
        var critic = Critic(space: space)
        var v = 0.0
        _ = try space.readRows(path, schema: .critic, payload: "v", what: "critic",
                               payload: { s in v = try s.finiteDouble("v") },
                               row: { index in critic.values[index] = v })
        return critic
    }
}
