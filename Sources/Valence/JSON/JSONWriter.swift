/// Appends compact, byte-stable JSON to a reusable buffer.
///
/// Records are written with a fixed key order chosen by each record type, integers in decimal and
/// doubles in Swift's shortest round-trip form, so the same values always give the same bytes.
public struct JSONWriter {
    public var bytes: [UInt8]
    private var needsComma = false

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    @inline(__always) mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"key":`; the key must be plain ASCII without quotes or backslashes.
    public mutating func key(_ key: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func key(_ key: String) {
        string(key)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func int(_ value: Int) {
        separator()
        appendInt(value)
    }

    @inline(__always) mutating func appendInt(_ value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendUInt(UInt64(value.magnitude))
        } else {
            appendUInt(UInt64(value))
        }
    }

    @inline(__always) mutating func appendUInt(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                     UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while n > 0 {
                raw[count] = UInt8(truncatingIfNeeded: n % 10) &+ 48
                n /= 10
                count += 1
            }
            var i = count - 1
            while i >= 0 {
                bytes.append(raw[i])
                i -= 1
            }
        }
    }

    /// Writes a finite double in shortest round-trip form; callers reject NaN and infinity first.
    public mutating func double(_ value: Double) {
        separator()
        appendDouble(value)
    }

    @inline(__always) mutating func appendDouble(_ value: Double) {
        precondition(value.isFinite, "JSON cannot hold \(value)")
        // Integral values of moderate size are common (rewards, advantages): write them as "1.0".
        if value == value.rounded(.towardZero) && abs(value) < 1e15 {
            if value == 0 && value.sign == .minus { bytes.append(UInt8(ascii: "-")) }
            appendInt(Int(value))
            bytes.append(UInt8(ascii: "."))
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var text = value.description
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    public mutating func bool(_ value: Bool) {
        separator()
        if value {
            bytes.append(contentsOf: [116, 114, 117, 101])
        } else {
            bytes.append(contentsOf: [102, 97, 108, 115, 101])
        }
    }

    public mutating func null() {
        separator()
        bytes.append(contentsOf: [110, 117, 108, 108])
    }

    public mutating func string(_ value: String) {
        separator()
        var copy = value
        copy.withUTF8 { appendEscaped($0) }
    }

    public mutating func string(bytes value: UnsafeBufferPointer<UInt8>) {
        separator()
        appendEscaped(value)
    }

    public mutating func string(bytes value: [UInt8]) {
        separator()
        value.withUnsafeBufferPointer { appendEscaped($0) }
    }

    @inline(__always) mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 0x0A: bytes.append(contentsOf: [92, 110])
            case 0x0D: bytes.append(contentsOf: [92, 114])
            case 0x09: bytes.append(contentsOf: [92, 116])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, 117, 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func intArray(_ values: some Sequence<Int>) {
        beginArray()
        for v in values { int(v) }
        endArray()
    }

    public mutating func doubleArray(_ values: some Sequence<Double>) {
        beginArray()
        for v in values { double(v) }
        endArray()
    }

    public mutating func newline() {
        bytes.append(UInt8(ascii: "\n"))
        needsComma = false
    }

    /// Writes a whole ``JSONValue`` tree; object keys in the order the value holds them.
    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: null()
        case .bool(let b): bool(b)
        case .int(let i): int(i)
        case .double(let d): double(d)
        case .string(let s): string(s)
        case .array(let items):
            beginArray()
            for item in items { value(item) }
            endArray()
        case .object(let fields):
            beginObject()
            for (k, item) in fields {
                key(k)
                value(item)
            }
            endObject()
        }
    }
}
