import Testing
@testable import Valence

#if canImport(Glibc)
import Glibc
#endif

/// The per-context tables (policy, gradient, optimizer state) are written row by row through one
/// cursor (`ContextSpace.writeRows`). Their lines must be exactly what `JSONWriter`'s per-value
/// methods write for the same fields, in the same key order: the bytes every earlier run has.
@Suite struct TableRowsTests {
    static let space = try! ContextSpace(task: try! AddTask(digits: 2), window: 1)

    /// Values of every shape the number writer distinguishes: zero and negative zero, integers,
    /// plain decimals, exponent forms, subnormals, and magnitudes past 2^54 (written by
    /// `description`).
    static func values(_ count: Int, seed: UInt64) -> [Double] {
        let shapes: [Double] = [0, -0.0, 1, -3, 0.5, -2.3025850929940455, 1e-5, -3.5e-7, 9.22371017188038e-07, .leastNonzeroMagnitude,
                                2.2250738585072014e-308, 1e20, -1.7976931348623157e308, 123456.789]
        var rng = CounterRNG(seed: seed, purpose: .rollout)
        return (0..<count).map { i in
            i % 3 == 0 ? shapes[i / 3 % shapes.count] : (rng.unit() - 0.5) * pow(10, Double(i % 11) - 6)
        }
    }

    /// One table line as the per-value methods write it: `{"schema", <fields>, "row", "ctx", <payload>}`.
    static func reference(schema: Schema, fields: [(String, String)] = [], row: Int, payload: (inout JSONWriter) -> Void) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("schema"); w.string(schema.rawValue)
        for (k, v) in fields { w.key(k); w.string(v) }
        w.key("row"); w.int(row)
        w.key("ctx"); w.string(space.labels[row])
        payload(&w)
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// A value equal to the one before it is copied from that one's text; a run of equal values,
    /// zero beside negative zero, and every shape above repeated must read as the per-value writer
    /// writes them.
    @Test func repeatedValuesInAnArrayAreWrittenAsThemselves() {
        var arrays: [[Double]] = [[-2.3025850929940455, -2.3025850929940455, -2.3025850929940455], [0, -0.0, -0.0, 0, 0],
                                  [1e20, 1e20, 3, 3, 1e20], [], [7.5], [.leastNonzeroMagnitude, .leastNonzeroMagnitude, 0.1]]
        arrays += Self.values(42, seed: 9).map { [$0, $0, 1, $0] }
        for values in arrays {
            var reference = JSONWriter()
            reference.doubleArray(values)
            // Without and with the memo a record encoder's cursor has (a hit copies 31 bytes).
            for cache in [nil, DoubleTextCache()] {
                let text = [UInt8](unsafeUninitializedCapacity: 2 * (2 + 33 * values.count)) { buffer, count in
                    guard let base = buffer.baseAddress else { return }
                    var c = JSONCursor(base, cache: cache)
                    values.withUnsafeBufferPointer { c.doubleArray($0) }
                    values.withUnsafeBufferPointer { c.doubleArray($0) }  // again: every value a memo hit
                    count = c.position - base
                }
                let once = reference.bytes
                #expect(text == once + once, "\(values), memo \(cache != nil)")
            }
        }
    }

    @Test func policyLinesAreThePerValueWritersLines() throws {
        let logits = Self.values(Self.space.rowCount * 10, seed: 1)
        let path = TestSupport.temporaryDirectory() + "/policy.jsonl.zst"
        try TabularPolicy(space: Self.space, logits: logits).write(to: path)
        let lines = try TestSupport.zstdLines(path)
        #expect(lines.count == Self.space.rowCount)
        for (r, line) in lines.enumerated() {
            #expect(line == Self.reference(schema: .policy, row: r) { w in
                w.key("logits"); w.doubleArray(logits[(r * 10)..<(r * 10 + 10)])
            })
        }
    }

    @Test func gradientLinesAreThePerValueWritersLines() throws {
        let n = Self.space.rowCount * 10
        let psr = Self.values(n, seed: 2), nsr = Self.values(n, seed: 3)
        let path = TestSupport.temporaryDirectory() + "/gradient.jsonl.zst"
        try GradientParts(space: Self.space, psr: psr, nsr: nsr).write(to: path)
        let lines = try TestSupport.zstdLines(path)
        #expect(lines.count == Self.space.rowCount)
        for (r, line) in lines.enumerated() {
            let s = (r * 10)..<(r * 10 + 10)
            #expect(line == Self.reference(schema: .gradient, row: r) { w in
                w.key("grad")
                w.beginObject()
                w.key("psr"); w.doubleArray(psr[s])
                w.key("nsr"); w.doubleArray(nsr[s])
                w.endObject()
            })
        }
    }

    @Test(arguments: OptimizerKind.allCases)
    func optimizerLinesAreThePerValueWritersLines(kind: OptimizerKind) throws {
        var state = OptimizerState(kind: kind, parameterCount: Self.space.rowCount * 10)
        state.t = 17
        if kind.hasMoments {
            state.m = Self.values(state.m.count, seed: 4)
            state.v = Self.values(state.v.count, seed: 5)
        }
        let path = TestSupport.temporaryDirectory() + "/optimizer.jsonl.zst"
        try state.write(to: path, space: Self.space)
        let lines = try TestSupport.zstdLines(path)
        #expect(lines.count == (kind.hasMoments ? Self.space.rowCount : 1))
        for (r, line) in lines.enumerated() {
            #expect(line == Self.reference(schema: .adam, fields: [("optimizer", kind.rawValue)], row: r) { w in
                w.key("t"); w.int(17)
                if kind.hasMoments {
                    w.key("m"); w.doubleArray(state.m[(r * 10)..<(r * 10 + 10)])
                    w.key("v"); w.doubleArray(state.v[(r * 10)..<(r * 10 + 10)])
                }
            })
        }
    }
}
