#if canImport(Glibc)
import Glibc
#endif

/// A syntax error inside one JSON text, with the byte column where it was found.
public struct JSONSyntaxError: Error, Sendable, CustomStringConvertible {
    public var column: Int
    public var message: String
    public var description: String { "column \(column): \(message)" }
}

/// A strict pull parser over one JSON text (one JSONL line) held in memory.
///
/// Record types drive it key by key, so decoding builds no intermediate tree and allocates nothing
/// for numbers. It accepts any valid JSON a person or `jq` may write (any key order, whitespace,
/// string escapes, exponents) and rejects anything else, including trailing garbage.
public struct JSONScanner {
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let end: Int
    @usableFromInline var pos: Int = 0
    /// Holds a key or string that needed unescaping.
    @usableFromInline var scratch: [UInt8] = []

    public init(_ buffer: UnsafeBufferPointer<UInt8>) {
        // An empty buffer still needs a valid pointer; any non-dereferenced pointer will do.
        base = buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!
        end = buffer.count
    }

    public var column: Int { pos + 1 }

    public func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(column: pos + 1, message: message)
    }

    @inline(__always) mutating func skipWhitespace() {
        while pos < end {
            let c = base[pos]
            if c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D { pos += 1 } else { break }
        }
    }

    @inline(__always) mutating func peek() -> UInt8? {
        skipWhitespace()
        return pos < end ? base[pos] : nil
    }

    @inline(__always) mutating func expect(_ c: UInt8, _ what: StaticString) throws(JSONSyntaxError) {
        skipWhitespace()
        guard pos < end, base[pos] == c else { throw error("expected \(what)") }
        pos += 1
    }

    /// Asserts that only whitespace remains.
    public mutating func finish() throws(JSONSyntaxError) {
        skipWhitespace()
        if pos != end { throw error("unexpected characters after the JSON value") }
    }

    // MARK: Objects

    public mutating func beginObject() throws(JSONSyntaxError) {
        try expect(UInt8(ascii: "{"), "'{'")
        firstMember = true
    }

    @usableFromInline var firstMember = true

    /// The next key of the current object, or nil at its closing brace. Nested objects must be
    /// consumed (or skipped) before the next call.
    public mutating func nextKey() throws(JSONSyntaxError) -> JSONKey? {
        skipWhitespace()
        guard pos < end else { throw error("unterminated object") }
        if base[pos] == UInt8(ascii: "}") {
            pos += 1
            return nil
        }
        if !firstMember {
            guard base[pos] == UInt8(ascii: ",") else { throw error("expected ',' or '}'") }
            pos += 1
            skipWhitespace()
        }
        firstMember = false
        guard pos < end, base[pos] == UInt8(ascii: "\"") else { throw error("expected a key string") }
        let key = try rawString()
        try expect(UInt8(ascii: ":"), "':' after key")
        return key
    }

    /// Consumes the next key if it is exactly `"key":` (preceded by ',' after the first member) with
    /// no whitespace or escapes: the layout this codec writes. Returns false, consuming nothing,
    /// otherwise; the caller then falls back to ``nextKey()``, which accepts every valid spelling.
    @inline(__always)
    public mutating func expectKey(_ key: StaticString) -> Bool {
        let n = key.utf8CodeUnitCount
        var p = pos
        if !firstMember {
            guard p < end, base[p] == UInt8(ascii: ",") else { return false }
            p &+= 1
        }
        guard end &- p >= n &+ 3, base[p] == UInt8(ascii: "\""), base[p &+ 1 &+ n] == UInt8(ascii: "\""),
              base[p &+ 2 &+ n] == UInt8(ascii: ":"), memcmp(base + p + 1, key.utf8Start, n) == 0
        else { return false }
        pos = p &+ n &+ 3
        firstMember = false
        return true
    }

    /// Reads a string; returns a view that is valid until the next scanner call.
    @inline(__always) mutating func rawString() throws(JSONSyntaxError) -> JSONKey {
        pos += 1  // opening quote
        let start = pos
        while pos < end {
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                let key = JSONKey(UnsafeBufferPointer(start: base + start, count: pos - start))
                pos += 1
                return key
            }
            if c == UInt8(ascii: "\\") {
                pos = start
                try unescapeString()
                return scratch.withUnsafeBufferPointer { JSONKey($0) }
            }
            if c < 0x20 { throw error("control character in string") }
            pos += 1
        }
        throw error("unterminated string")
    }

    mutating func unescapeString() throws(JSONSyntaxError) {
        scratch.removeAll(keepingCapacity: true)
        while pos < end {
            let c = base[pos]
            pos += 1
            if c == UInt8(ascii: "\"") { return }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") {
                scratch.append(c)
                continue
            }
            guard pos < end else { break }
            let e = base[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if code >= 0xD800 && code < 0xDC00 {
                    guard pos + 1 < end, base[pos] == UInt8(ascii: "\\"), base[pos + 1] == UInt8(ascii: "u")
                    else { throw error("unpaired surrogate in \\u escape") }
                    pos += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw error("invalid low surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if code >= 0xDC00 && code < 0xE000 {
                    throw error("unpaired surrogate in \\u escape")
                }
                guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                scratch.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        throw error("unterminated string")
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard pos + 4 <= end else { throw error("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = base[pos]
            pos += 1
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
        }
        return v
    }

    // MARK: Scalars

    /// A string value as its decoded UTF-8 bytes, valid until the next scanner call.
    public mutating func stringBytes() throws(JSONSyntaxError) -> JSONKey {
        skipWhitespace()
        guard pos < end, base[pos] == UInt8(ascii: "\"") else { throw error("expected a string") }
        return try rawString()
    }

    public mutating func string() throws(JSONSyntaxError) -> String {
        let bytes = try stringBytes()
        return String(decoding: bytes.buffer, as: UTF8.self)
    }

    public mutating func bool() throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        if literal("true") { return true }
        if literal("false") { return false }
        throw error("expected true or false")
    }

    public mutating func isNull() -> Bool {
        skipWhitespace()
        return literal("null")
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard pos + n <= end else { return false }
        let p = word.utf8Start
        for i in 0..<n where base[pos + i] != p[i] { return false }
        pos += n
        return true
    }

    /// An integer value. Accepts an integral number written with a fraction or exponent (1.0, 1e2)
    /// since jq may rewrite integers that way.
    public mutating func int() throws(JSONSyntaxError) -> Int {
        skipWhitespace()
        let start = pos
        var negative = false
        if pos < end && base[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        let digitStart = pos
        // Up to 18 digits cannot overflow an Int; longer runs are rechecked below.
        var magnitude: UInt64 = 0
        while pos < end {
            let d = base[pos] &- 48
            if d > 9 { break }
            magnitude = magnitude &* 10 &+ UInt64(d)
            pos &+= 1
        }
        let digits = pos &- digitStart
        if digits > 1 && base[digitStart] == UInt8(ascii: "0") { throw error("leading zero in number") }
        var value = Int(truncatingIfNeeded: magnitude)
        if digits > 18 {
            value = 0
            for i in digitStart..<pos {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(base[i] &- 48))
                if o1 || o2 { throw error("integer out of range") }
                value = s
            }
        }
        if digits == 0 { throw error("expected an integer") }
        if pos < end, base[pos] == UInt8(ascii: ".") || base[pos] | 0x20 == UInt8(ascii: "e") {
            pos = start
            let d = try double()
            guard d == d.rounded(), abs(d) < 9.0e15 else { throw error("expected an integer, found \(d)") }
            return Int(d)
        }
        return negative ? -value : value
    }

    /// A JSON number as a Double. Exact: the common short forms take a fast path that is provably
    /// correctly rounded; everything else goes through strtod.
    public mutating func double() throws(JSONSyntaxError) -> Double {
        skipWhitespace()
        let start = pos
        var negative = false
        if pos < end && base[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        // Set when digits beyond the 19th significant one were dropped: then only strtod is exact.
        var truncated = false
        let intStart = pos
        while pos < end, base[pos] &- 48 <= 9 {
            if significant < 19 {
                mantissa = mantissa &* 10 &+ UInt64(base[pos] &- 48)
                if mantissa != 0 { significant &+= 1 }
            } else {
                exponent &+= 1
                truncated = true
            }
            pos &+= 1
        }
        let intDigits = pos - intStart
        if intDigits == 0 { throw error("expected a number") }
        if intDigits > 1 && base[intStart] == UInt8(ascii: "0") { throw error("leading zero in number") }
        if pos < end && base[pos] == UInt8(ascii: ".") {
            pos &+= 1
            let fracStart = pos
            // Eight digits per step while they fit the 19-digit budget (the common 17-digit case).
            while significant <= 11 && end &- pos >= 8 {
                let chunk = UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self)
                guard let eight = JSONScanner.eightDigits(chunk) else { break }
                let wasZero = mantissa == 0
                mantissa = mantissa &* 100_000_000 &+ eight
                if wasZero {
                    significant = mantissa == 0 ? 0 : FloatText.decimalLength(mantissa)
                } else {
                    significant &+= 8
                }
                exponent &-= 8
                pos &+= 8
            }
            while pos < end, base[pos] &- 48 <= 9 {
                if significant < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(base[pos] &- 48)
                    if mantissa != 0 { significant &+= 1 }
                    exponent &-= 1
                } else {
                    truncated = true
                }
                pos &+= 1
            }
            if pos == fracStart { throw error("expected digits after '.'") }
        }
        if pos < end && base[pos] | 0x20 == UInt8(ascii: "e") {
            pos &+= 1
            var expNegative = false
            if pos < end && (base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-")) {
                expNegative = base[pos] == UInt8(ascii: "-")
                pos &+= 1
            }
            let expStart = pos
            var e = 0
            while pos < end, base[pos] &- 48 <= 9 {
                if e < 100_000 { e = e &* 10 &+ Int(base[pos] &- 48) }
                pos &+= 1
            }
            if pos == expStart { throw error("expected digits in exponent") }
            exponent &+= expNegative ? -e : e
        }
        // Clinger's fast path: exact when the mantissa and the power of ten are both exact doubles.
        if significant <= 15 && mantissa < (1 << 53) && exponent >= -22 && exponent <= 22 {
            var d = Double(mantissa)
            let p = JSONScanner.powerOfTen(exponent < 0 ? -exponent : exponent)
            if exponent < 0 { d /= p } else { d *= p }
            return negative ? -d : d
        }
        // Eisel-Lemire: exact for up to 19 significant digits, except rare undecidable cases.
        if !truncated, let d = FloatText.parse(mantissa: mantissa, exponent: exponent, negative: negative) {
            return d
        }
        return slowDouble(start)
    }

    /// The value of eight ASCII digits loaded little-endian, or nil if any byte is not a digit
    /// (the SWAR conversion of Lemire's fast_float).
    @inline(__always) static func eightDigits(_ v: UInt64) -> UInt64? {
        let high: UInt64 = 0xF0F0_F0F0_F0F0_F0F0
        guard v & high == 0x3030_3030_3030_3030,
              (v &+ 0x0606_0606_0606_0606) & high == 0x3030_3030_3030_3030 else { return nil }
        var x = v &- 0x3030_3030_3030_3030
        x = x &* 10 &+ (x >> 8)
        let mask: UInt64 = 0x0000_00FF_0000_00FF
        x = ((x & mask) &* 0x000F_4240_0000_0064 &+ ((x >> 16) & mask) &* 0x0000_2710_0000_0001) >> 32
        return x & 0xFFFF_FFFF
    }

    /// 10^i for 0 <= i <= 22, all exact doubles.
    @inline(__always) static func powerOfTen(_ i: Int) -> Double {
        let table: (Double, Double, Double, Double, Double, Double, Double, Double, Double, Double, Double, Double,
                     Double, Double, Double, Double, Double, Double, Double, Double, Double, Double, Double) =
            (1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
             1e18, 1e19, 1e20, 1e21, 1e22)
        return withUnsafeBytes(of: table) { $0.load(fromByteOffset: i &* 8, as: Double.self) }
    }

    /// strtod on the number's text (already validated), copied to a NUL-terminated stack buffer.
    mutating func slowDouble(_ start: Int) -> Double {
        let n = pos - start
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { text in
            for i in 0..<n { text[i] = CChar(bitPattern: base[start + i]) }
            text[n] = 0
            return strtod(text.baseAddress!, nil)
        }
    }

    /// Skips any value (used for keys a reader does not need).
    public mutating func skipValue() throws(JSONSyntaxError) {
        try skipValue(depth: 0)
    }

    mutating func skipValue(depth: Int) throws(JSONSyntaxError) {
        if depth > 64 { throw error("nesting too deep") }
        guard let c = peek() else { throw error("expected a value") }
        switch c {
        case UInt8(ascii: "{"):
            pos += 1
            skipWhitespace()
            if pos < end && base[pos] == UInt8(ascii: "}") { pos += 1; return }
            while true {
                skipWhitespace()
                guard pos < end, base[pos] == UInt8(ascii: "\"") else { throw error("expected a key string") }
                _ = try rawString()
                try expect(UInt8(ascii: ":"), "':' after key")
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard pos < end else { throw error("unterminated object") }
                if base[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if base[pos] == UInt8(ascii: "}") { pos += 1; return }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            pos += 1
            skipWhitespace()
            if pos < end && base[pos] == UInt8(ascii: "]") { pos += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard pos < end else { throw error("unterminated array") }
                if base[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if base[pos] == UInt8(ascii: "]") { pos += 1; return }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            _ = try rawString()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            _ = try bool()
        case UInt8(ascii: "n"):
            if !isNull() { throw error("invalid literal") }
        default:
            _ = try double()
        }
    }

    // MARK: Arrays

    public mutating func beginArray() throws(JSONSyntaxError) {
        try expect(UInt8(ascii: "["), "'['")
        firstElement = true
    }

    @usableFromInline var firstElement = true

    /// True while the current array has another element; consumes separators and the closing ']'.
    public mutating func hasNextElement() throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        guard pos < end else { throw error("unterminated array") }
        if base[pos] == UInt8(ascii: "]") {
            pos += 1
            return false
        }
        if !firstElement {
            guard base[pos] == UInt8(ascii: ",") else { throw error("expected ',' or ']'") }
            pos += 1
        }
        firstElement = false
        return true
    }

    /// Reads an array of numbers into `out` (cleared first, capacity kept).
    public mutating func doubles(into out: inout [Double]) throws(JSONSyntaxError) {
        out.removeAll(keepingCapacity: true)
        try beginArray()
        while try hasNextElement() { out.append(try double()) }
    }

    public mutating func ints(into out: inout [Int]) throws(JSONSyntaxError) {
        out.removeAll(keepingCapacity: true)
        try beginArray()
        while try hasNextElement() { out.append(try int()) }
    }
}

/// A borrowed view of a decoded key or string; compare it against the names a record expects.
public struct JSONKey {
    public let buffer: UnsafeBufferPointer<UInt8>

    @inline(__always) init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

    @inline(__always) public static func == (lhs: JSONKey, rhs: StaticString) -> Bool {
        let n = rhs.utf8CodeUnitCount
        guard lhs.buffer.count == n else { return false }
        let p = rhs.utf8Start
        for i in 0..<n where lhs.buffer[i] != p[i] { return false }
        return true
    }

    public var string: String { String(decoding: buffer, as: UTF8.self) }
}
