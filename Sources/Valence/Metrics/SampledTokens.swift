/// Which tokens a step's rollouts produced at each table row, and which of them in wrong rollouts:
/// the masks ``RedistributionDiagnostic`` needs (bit k set for token k), gathered record by record.
///
/// eval gathers them from the split shards; in-process split gathers them as it writes those shards
/// and hands them to eval through ``ParsedFiles`` (keyed by the shard's digest), so eval does not
/// decode the step's rollouts again.
///
/// - Complexity: O(L) per record (the rows are looked up once per prompt's group).
struct SampledTokens: Sendable {
    /// The ``ParsedFiles`` variant a shard's masks are kept under.
    static let cacheVariant = "sampled tokens per row"

    private(set) var sampled: [UInt16]
    private(set) var penalised: [UInt16]
    private var rows: [Int] = []
    private var rowsOperands = (-1, -1)

    init(rowCount: Int) {
        sampled = [UInt16](repeating: 0, count: rowCount)
        penalised = sampled
    }

    /// Adds one rollout of the task `space` was built for; throws what eval refuses in a record
    /// (a response of the wrong length, a token that is not a digit).
    mutating func add(_ r: Rollout, space: ContextSpace) throws {
        guard r.tokens.count == space.length else {
            throw RecordError("\(r.tokens.count) tokens, the task's responses have \(space.length)")
        }
        // The rows depend only on the operands, which repeat for a prompt's whole group.
        if rowsOperands != (r.a, r.b) {
            space.rows(a: r.a, b: r.b, into: &rows)
            rowsOperands = (r.a, r.b)
        }
        for j in 0..<rows.count {
            guard (0..<10).contains(r.tokens[j]) else { throw RecordError("token \(r.tokens[j]) is not a digit") }
            let bit = UInt16(1) << UInt16(r.tokens[j])
            sampled[rows[j]] |= bit
            if r.reward == 0 { penalised[rows[j]] |= bit }
        }
    }

    /// Adds another shard's masks.
    mutating func merge(_ other: SampledTokens) {
        for i in sampled.indices {
            sampled[i] |= other.sampled[i]
            penalised[i] |= other.penalised[i]
        }
    }
}
