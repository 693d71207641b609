/// A parsed JSON document, for the small files that are read once: configs and manifests.
///
/// Objects keep their key order so that a value read and written again is byte-stable.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.int(a), .double(b)), let (.double(b), .int(a)): return Double(a) == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Parses one complete JSON text.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) -> JSONValue in
            var scanner = JSONScanner(buffer)
            let value = try parseValue(&scanner, depth: 0)
            try scanner.finish()
            return value
        }
    }

    static func parseValue(_ s: inout JSONScanner, depth: Int) throws(JSONSyntaxError) -> JSONValue {
        if depth > 64 { throw s.error("nesting too deep") }
        guard let c = s.peek() else { throw s.error("expected a value") }
        switch c {
        case UInt8(ascii: "{"):
            s.pos += 1
            var fields: [(String, JSONValue)] = []
            if s.peek() == UInt8(ascii: "}") { s.pos += 1; return .object(fields) }
            while true {
                guard s.peek() == UInt8(ascii: "\"") else { throw s.error("expected a key string") }
                let key = try s.rawString().string
                try s.expect(UInt8(ascii: ":"), "':' after key")
                if fields.contains(where: { $0.0 == key }) { throw s.error("duplicate key \"\(key)\"") }
                fields.append((key, try parseValue(&s, depth: depth + 1)))
                switch s.peek() {
                case UInt8(ascii: ","): s.pos += 1
                case UInt8(ascii: "}"): s.pos += 1; return .object(fields)
                default: throw s.error("expected ',' or '}'")
                }
            }
        case UInt8(ascii: "["):
            s.pos += 1
            var items: [JSONValue] = []
            if s.peek() == UInt8(ascii: "]") { s.pos += 1; return .array(items) }
            while true {
                items.append(try parseValue(&s, depth: depth + 1))
                switch s.peek() {
                case UInt8(ascii: ","): s.pos += 1
                case UInt8(ascii: "]"): s.pos += 1; return .array(items)
                default: throw s.error("expected ',' or ']'")
                }
            }
        case UInt8(ascii: "\""):
            return .string(try s.string())
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            return .bool(try s.bool())
        case UInt8(ascii: "n"):
            if s.isNull() { return .null }
            throw s.error("invalid literal")
        default:
            let start = s.pos
            let d = try s.double()
            // 1e999 is valid JSON but no finite Double: refuse it here so no NaN or infinity can
            // reach a config, a manifest statistic or (via them) a writer.
            guard d.isFinite else { throw s.error("number out of range (it overflows a Double)") }
            var integral = true
            for i in start..<s.pos where s.base[i] == UInt8(ascii: ".") || s.base[i] | 0x20 == UInt8(ascii: "e") {
                integral = false
            }
            if integral, d.magnitude < 9.0e15 { return .int(Int(d)) }
            return .double(d)
        }
    }

    /// Compact, byte-stable serialisation (object keys in held order).
    public var compactBytes: [UInt8] {
        var w = JSONWriter()
        w.value(self)
        return w.bytes
    }

    /// Two-space indented serialisation, for files people read (configs, manifests): objects and
    /// arrays of containers one item per line, arrays of scalars on one line, scalars compact.
    ///
    /// - Complexity: O(size), into one buffer (building it from joined substrings cost ~90,000
    ///   instructions per manifest, and a step writes a dozen).
    public func prettyText(indent: String = "") -> String {
        var w = JSONWriter(capacity: 1024)
        writePretty(into: &w, indent: Array(indent.utf8))
        return w.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    private func writePretty(into w: inout JSONWriter, indent: [UInt8]) {
        func text(_ s: StaticString) { s.withUTF8Buffer { w.append($0) } }
        func bytes(_ b: [UInt8]) { b.withUnsafeBufferPointer { w.append($0) } }
        let inner = indent + [UInt8(ascii: " "), UInt8(ascii: " ")]
        switch self {
        case .array(let items) where !items.isEmpty:
            let scalars = items.allSatisfy { if case .object = $0 { return false }; if case .array = $0 { return false }; return true }
            text(scalars ? "[" : "[\n")
            for (i, item) in items.enumerated() {
                if i > 0 { text(scalars ? ", " : ",\n") }
                if scalars {
                    w.needsComma = false
                    w.value(item)
                } else {
                    bytes(inner)
                    item.writePretty(into: &w, indent: inner)
                }
            }
            if !scalars { text("\n"); bytes(indent) }
            text("]")
        case .object(let fields) where !fields.isEmpty:
            text("{\n")
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { text(",\n") }
                bytes(inner)
                w.needsComma = false
                w.string(key)
                text(": ")
                value.writePretty(into: &w, indent: inner)
            }
            text("\n")
            bytes(indent)
            text("}")
        default:
            w.needsComma = false
            w.value(self)
        }
    }

    // MARK: Access

    public subscript(key: String) -> JSONValue? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.0 == key }?.1
    }

    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && d.magnitude < 9.0e15: return Int(d)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [(String, JSONValue)]? {
        if case .object(let o) = self { return o }
        return nil
    }
}

/// Reads typed fields out of a ``JSONValue`` object, with errors that name the file and the key.
public struct JSONFields {
    public let value: JSONValue
    public let path: String

    public init(_ value: JSONValue, path: String) {
        self.value = value
        self.path = path
    }

    public static func load(_ path: String) throws -> JSONFields {
        let bytes = try FileSystem.readFile(path)
        do {
            return JSONFields(try JSONValue.parse(bytes), path: path)
        } catch {
            throw ValenceError.badData(path: path, line: nil, detail: "invalid JSON: \(error)")
        }
    }

    func fail(_ key: String, _ what: String) -> ValenceError {
        .badData(path: path, line: nil, detail: "field \"\(key)\" \(what)")
    }

    public func has(_ key: String) -> Bool { value[key] != nil }

    public func int(_ key: String) throws -> Int {
        guard let v = value[key] else { throw fail(key, "is missing") }
        guard let i = v.intValue else { throw fail(key, "must be an integer") }
        return i
    }

    public func double(_ key: String) throws -> Double {
        guard let v = value[key] else { throw fail(key, "is missing") }
        guard let d = v.doubleValue, d.isFinite else { throw fail(key, "must be a finite number") }
        return d
    }

    public func string(_ key: String) throws -> String {
        guard let v = value[key] else { throw fail(key, "is missing") }
        guard let s = v.stringValue else { throw fail(key, "must be a string") }
        return s
    }

    public func bool(_ key: String) throws -> Bool {
        guard let v = value[key] else { throw fail(key, "is missing") }
        guard let b = v.boolValue else { throw fail(key, "must be true or false") }
        return b
    }

    public func object(_ key: String) throws -> JSONFields {
        guard let v = value[key] else { throw fail(key, "is missing") }
        guard case .object = v else { throw fail(key, "must be an object") }
        return JSONFields(v, path: path)
    }

    public func array(_ key: String) throws -> [JSONValue] {
        guard let v = value[key] else { throw fail(key, "is missing") }
        guard let a = v.arrayValue else { throw fail(key, "must be an array") }
        return a
    }
}
