/// One line of a run's `metrics.jsonl`, as the report needs it.
public struct MetricsLine: Sendable {
    public var step: Int
    public var objective: String
    public var window: Int
    public var seed: Int
    public var split: String
    public var passAtK: [Double]
    public var entropy: Double
    public var greedy: Double
    /// Everything else on the line (batch and gradient statistics), by key.
    public var fields: JSONValue

    public func number(_ key: String) -> Double? { fields[key]?.doubleValue }

    /// Reads a metrics file, one JSON object per line.
    public static func load(_ path: String) throws -> [MetricsLine] {
        let text = try FileSystem.readFile(path)
        var lines: [MetricsLine] = []
        var lineNumber = 0
        for raw in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            do {
                let f = JSONFields(try JSONValue.parse(Array(raw)), path: path)
                let schema = try f.string("schema")
                guard schema == Schema.metrics.rawValue else { throw RecordError("schema is \"\(schema)\", expected \"\(Schema.metrics.rawValue)\"") }
                lines.append(MetricsLine(
                    step: try f.int("step"),
                    objective: try f.string("objective"),
                    window: try f.int("window"),
                    seed: try f.int("seed"),
                    split: try f.string("split"),
                    passAtK: try PassAtK.ks.map { try f.double("pass@\($0)") },
                    entropy: try f.double("entropy"),
                    greedy: try f.double("greedy"),
                    fields: f.value
                ))
            } catch let e as JSONSyntaxError {
                throw ValenceError.badData(path: path, line: lineNumber, detail: "invalid JSON at \(e)")
            } catch let e as RecordError {
                throw ValenceError.badData(path: path, line: lineNumber, detail: e.message)
            } catch let e as ValenceError {
                if case let .badData(_, _, detail) = e { throw ValenceError.badData(path: path, line: lineNumber, detail: detail) }
                throw e
            }
        }
        return lines
    }
}
