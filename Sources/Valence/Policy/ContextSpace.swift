import Dispatch

/// The table's row keys (docs/model.md 3): position j, the operand digits a_j, b_j, and the carry hints
/// h_{j+1} ... h_{j+w} of the w lower positions.
///
/// Rows are numbered ((j * 10 + a_j) * 10 + b_j) * 3^w + sum_k h_{j+k} * 3^(w-k), so a person can
/// find a row from its label ("j2 a3 b5", or "j2 a3 b5 h1" with a window).
public struct ContextSpace: Sendable, Hashable {
    public let task: AddTask
    /// w, how many lower positions' carry hints a row sees.
    public let window: Int

    public static let vocabulary = 10
    public static let maxWindow = 3

    public init(task: AddTask, window: Int) throws {
        guard (0...ContextSpace.maxWindow).contains(window) else {
            throw ValenceError.config(detail: "window = \(window) is out of range 0...\(ContextSpace.maxWindow)")
        }
        self.task = task
        self.window = window
    }

    public var length: Int { task.length }

    var hintCount: Int {
        var p = 1
        for _ in 0..<window { p *= 3 }
        return p
    }

    /// L * 100 * 3^w.
    public var rowCount: Int { length * 100 * hintCount }

    /// The row of every output position for prompt (a, b), written into `rows` (L entries).
    @inline(__always)
    public func rows(a: Int, b: Int, into rows: inout [Int]) {
        let L = length
        rows.removeAll(keepingCapacity: true)
        for j in 0..<L {
            let p = ContextSpace.powers[L - 1 - j]
            var row = (j * 10 + (a / p) % 10) * 10 + (b / p) % 10
            if window > 0 {
                for i in (j + 1)...(j + window) {
                    var h = 0
                    if i < L {
                        let q = ContextSpace.powers[L - 1 - i]
                        let s = (a / q) % 10 + (b / q) % 10
                        h = s < 9 ? 0 : (s == 9 ? 1 : 2)
                    }
                    row = row * 3 + h
                }
            }
            rows.append(row)
        }
    }

    static let powers: [Int] = (0...AddTask.maxDigits + 1).map { power10($0) }

    public func rows(a: Int, b: Int) -> [Int] {
        var r: [Int] = []
        rows(a: a, b: b, into: &r)
        return r
    }

    /// Reads a per-context file (policy, critic): one line per row, `{"schema", "row", "ctx",
    /// <payload>}` in any key order. Rows must come once each, in order, and carry this space's
    /// label, so a file from another window or digit count is refused by name; all four fields are
    /// required. `payload` reads the payload field's value (into the caller's scratch) while the
    /// line is scanned; `row` then takes that value for the checked row index. Returns the file's
    /// digest.
    func readRows(_ path: String, schema: Schema, payload key: StaticString, what: String,
                  payload readPayload: (inout JSONScanner) throws -> Void,
                  row body: (Int) throws -> Void) throws -> UInt64 {
        var next = 0
        let labels = labels
        let summary = try ShardReader.forEachLine(path) { line, _ in
            var s = JSONScanner(line)
            var seen = FieldSet()
            var index = -1
            var label = ""
            try s.beginObject()
            while let name = try s.nextKey() {
                if name == "schema" { try seen.insert(1); try Schema.check(try s.stringBytes(), expected: schema) }
                else if name == "row" { try seen.insert(2); index = try s.intField("row") }
                else if name == "ctx" { try seen.insert(4); label = try s.string() }
                else if name == key { try seen.insert(8); try readPayload(&s) }
                else { try s.skipValue() }
            }
            try s.finish()
            try seen.require(1, "schema")
            try seen.require(2, "row")
            try seen.require(4, "ctx")
            try seen.require(8, key)
            guard index == next, index < rowCount else {
                throw RecordError("row \(index) out of order: expected row \(next) of \(rowCount)")
            }
            let expected = labels[index]
            guard label == expected else {
                throw RecordError("row \(index) has ctx \"\(label)\", expected \"\(expected)\" (a file from another window or digit count?)")
            }
            try body(index)
            next += 1
        }
        guard next == rowCount else {
            throw ValenceError.badData(path: path, line: nil, detail: "\(what) has \(next) rows, expected \(rowCount)")
        }
        return summary.digest
    }

    /// Writes a per-context file's records, the counterpart of ``readRows(_:schema:payload:what:payload:row:)``:
    /// per row `{"schema":"<schema>"<fields>,"row":R,"ctx":"<label>",<payload>}`, where `fields`
    /// is JSON text written after the schema in every row (the optimizer's `,"optimizer":"adam"`)
    /// and `payload` writes the row's own fields through a cursor, at most `payloadBound` bytes.
    /// `rows` is the number of rows written, from row 0 (all by default).
    ///
    /// Hot path (three tables a step): one reserved run per row, keys as constant text. The bytes
    /// are those ``JSONWriter``'s per-value methods write (`TableRowsTests` compares them).
    ///
    /// - Complexity: O(rows x payload).
    func writeRows(_ writer: ShardWriter, schema: Schema, fields: String = "", rows: Int? = nil, payloadBound: Int,
                   payload: (inout JSONCursor, Int) -> Void) throws {
        let labels = labels
        var fields = fields
        try fields.withUTF8 { fields in
            for r in 0..<(rows ?? rowCount) {
                let label = labels[r]
                let bound = 64 + fields.count + JSONCursor.maxIntLength
                    + JSONCursor.maxEscapedLength(label.utf8.count) + payloadBound
                writer.json.appendRaw(maxCount: bound, memo: false) { c in
                    c.raw("{\"schema\":\"")
                    c.raw(schema.tag)
                    c.byte(UInt8(ascii: "\""))
                    c.bytes(fields)
                    c.raw(",\"row\":")
                    c.int(r)
                    c.raw(",\"ctx\":")
                    c.string(label)
                    c.byte(UInt8(ascii: ","))
                    payload(&c, r)
                    c.byte(UInt8(ascii: "}"))
                }
                try writer.endRecord()
            }
        }
    }

    /// The readable key of a row, e.g. "j2 a3 b5" or "j2 a3 b5 h12" (h_{j+1} = 1, h_{j+2} = 2).
    public func label(row: Int) -> String {
        let hints = row % hintCount
        let base = row / hintCount
        var text = "j\(base / 100) a\((base / 10) % 10) b\(base % 10)"
        if window > 0 {
            var digits = ""
            var h = hints
            for _ in 0..<window {
                digits = String(h % 3) + digits
                h /= 3
            }
            text += " h" + digits
        }
        return text
    }
}

extension ContextSpace {
    /// Every row's ``label(row:)``, built once per space and process: the checkpoint writers and
    /// readers label all rows of a table, three tables a step, and building the strings each time
    /// was 9% of an in-process step (docs/performance.md).
    ///
    /// - Complexity: O(1) after the first call for a space (O(rows) then).
    public var labels: [String] { ContextSpace.labelTables.labels(for: self) }

    private static let labelTables = LabelTables()

    private final class LabelTables: @unchecked Sendable {
        private var tables: [ContextSpace: [String]] = [:]
        private let lock = DispatchSemaphore(value: 1)

        func labels(for space: ContextSpace) -> [String] {
            lock.wait()
            defer { lock.signal() }
            if let known = tables[space] { return known }
            let built = (0..<space.rowCount).map { space.label(row: $0) }
            tables[space] = built
            return built
        }
    }
}
