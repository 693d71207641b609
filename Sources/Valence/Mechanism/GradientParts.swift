/// The PSR and NSR parts of one training step's gradient, as update computed them (summed over the
/// step's minibatches), kept beside the checkpoint so eval can say which way each part pushed the
/// entropy (docs/model.md 9) without redoing the update.
///
/// The file `steps/N/checkpoint/gradient.jsonl.zst` holds one `valence.gradient/1` row per context:
/// `{"schema":..,"row":i,"ctx":"j2 a3 b5","grad":{"psr":[10 numbers],"nsr":[10 numbers]}}`, so
/// `jq 'select(.ctx == "j0 a0 b0") | .grad'` shows what each part did to a row. It is small (rows x
/// 20 numbers) and written once per step.
public struct GradientParts: Sendable, Equatable {
    public let space: ContextSpace
    public var psr: [Double]
    public var nsr: [Double]

    public init(space: ContextSpace, psr: [Double], nsr: [Double]) {
        precondition(psr.count == space.rowCount * 10 && nsr.count == psr.count)
        self.space = space
        self.psr = psr
        self.nsr = nsr
    }

    /// Its key among the ``ParsedFiles`` of a process (update hands the parts it wrote to eval).
    static let cacheVariant = "gradient parts"

    /// The file's path in a run, beside the checkpoint of `step`.
    public static func file(_ step: Int) -> String { "\(RunLayout.checkpoint(step))/gradient.jsonl.zst" }

    /// Given a `writeBehind` queue that is on, the file is compressed and written there
    /// (``ShardWriter``: the summary's size and digest are then 0 until it is).
    @discardableResult
    public func write(to path: String, writeBehind: WriteBehind? = nil) throws -> ShardSummary {
        let writer = try ShardWriter(path: path, level: 1, contexts: .shared, writeBehind: writeBehind)
        try psr.withUnsafeBufferPointer { psr in
            try nsr.withUnsafeBufferPointer { nsr in
                try space.writeRows(writer, schema: .gradient, payloadBound: 32 + 20 * (JSONCursor.maxDoubleLength + 1)) { c, r in
                    let s = (r * 10)..<(r * 10 + 10)
                    c.raw("\"grad\":{\"psr\":")
                    c.doubleArray(UnsafeBufferPointer(rebasing: psr[s]))
                    c.raw(",\"nsr\":")
                    c.doubleArray(UnsafeBufferPointer(rebasing: nsr[s]))
                    c.byte(UInt8(ascii: "}"))
                }
            }
        }
        return try writer.commit()
    }

    /// Reads a gradient file, checking every row is present once, in order, with its label and 10
    /// finite numbers in each part.
    public static func read(from path: String, space: ContextSpace) throws -> GradientParts {
        var parts = GradientParts(space: space, psr: [Double](repeating: 0, count: space.rowCount * 10),
                                  nsr: [Double](repeating: 0, count: space.rowCount * 10))
        var psr: [Double] = [], nsr: [Double] = []
        _ = try space.readRows(path, schema: .gradient, payload: "grad", what: "gradient file",
                               payload: { s in
            var seen = (psr: false, nsr: false)
            try s.beginObject()
            while let name = try s.nextKey() {
                if name == "psr" { try s.doubles(into: &psr); seen.psr = true }
                else if name == "nsr" { try s.doubles(into: &nsr); seen.nsr = true }
                else { try s.skipValue() }
            }
            guard seen.psr && seen.nsr else { throw RecordError("grad needs both \"psr\" and \"nsr\"") }
        }, row: { index in
            for (name, values) in [("psr", psr), ("nsr", nsr)] {
                guard values.count == 10 else { throw RecordError("row \(index) \(name) has \(values.count) numbers, expected 10") }
                guard values.allSatisfy(\.isFinite) else { throw RecordError("row \(index) \(name) holds a non-finite number") }
            }
            for k in 0..<10 {
                parts.psr[index * 10 + k] = psr[k]
                parts.nsr[index * 10 + k] = nsr[k]
            }
        })
        return parts
    }
}
