#if canImport(Glibc)
import Glibc
#endif

/// Appends compact, byte-stable JSON to a reusable buffer.
///
/// Records are written with a fixed key order chosen by each record type, integers in decimal and
/// doubles in Swift's shortest round-trip form (`Double.description`'s exact bytes), so the same
/// values always give the same bytes.
///
/// The buffer is a copy-on-write byte store rather than an `[UInt8]` so that hot record encoders
/// can reserve room once per record and then write through a ``JSONCursor`` with no per-byte
/// capacity or uniqueness checks (see ``appendRaw(maxCount:_:)``).
public struct JSONWriter {
    @usableFromInline var storage: ByteStorage
    @usableFromInline var needsComma = false

    public init(capacity: Int = 256) {
        storage = ByteStorage(capacity: Swift.max(capacity, 16))
    }

    /// The bytes written so far (a copy; prefer ``withBytes(_:)`` on hot paths).
    public var bytes: [UInt8] {
        get { withBytes { Array($0) } }
        set {
            reset()
            newValue.withUnsafeBufferPointer { append($0) }
        }
    }

    /// How many bytes are pending.
    public var count: Int { storage.count }

    /// Calls `body` with the pending bytes; the pointer is valid only inside `body`.
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    public mutating func reset() {
        if isKnownUniquelyReferenced(&storage) {
            storage.count = 0
        } else {
            storage = ByteStorage(capacity: storage.capacity)
        }
        needsComma = false
    }

    /// Room for `n` more bytes, unshared; returns where they go.
    @inline(__always) @usableFromInline
    mutating func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if !isKnownUniquelyReferenced(&storage) || storage.capacity - storage.count < n {
            grow(n)
        }
        return storage.base + storage.count
    }

    @usableFromInline mutating func grow(_ n: Int) {
        let copy = ByteStorage(capacity: Swift.max(storage.capacity * 2, storage.count + n))
        copy.base.update(from: storage.base, count: storage.count)
        copy.count = storage.count
        storage = copy
    }

    /// Appends raw bytes (already valid JSON text, or a newline).
    public mutating func append(_ raw: UnsafeBufferPointer<UInt8>) {
        guard let src = raw.baseAddress, raw.count > 0 else { return }
        let p = reserve(raw.count)
        p.update(from: src, count: raw.count)
        storage.count += raw.count
    }

    /// The hot-path entry point: reserves `maxCount` bytes once, lets `body` write through a
    /// cursor with no further checks, and keeps what it wrote. `body` must not write more than
    /// `maxCount` bytes; record encoders compute that bound from their field sizes.
    ///
    /// With `memo` (the default) doubles go through the writer's ``DoubleTextCache``, which pays
    /// where a document repeats values (a step's log-probabilities); tables whose values rarely
    /// repeat pass false.
    @inline(__always)
    public mutating func appendRaw(maxCount: Int, memo: Bool = true, _ body: (inout JSONCursor) -> Void) {
        let start = reserve(maxCount + 1)
        var cursor = JSONCursor(start, cache: memo ? storage.cache : nil)
        if needsComma { cursor.byte(UInt8(ascii: ",")) }
        body(&cursor)
        storage.count += cursor.position - start
        needsComma = true
    }

    @inline(__always) mutating func byte(_ b: UInt8) {
        let p = reserve(1)
        p.pointee = b
        storage.count += 1
    }

    @inline(__always) mutating func separator() {
        if needsComma { byte(UInt8(ascii: ",")) }
        needsComma = true
    }

    public mutating func beginObject() {
        separator()
        byte(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        byte(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separator()
        byte(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        byte(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"key":`; the key must be plain ASCII without quotes or backslashes.
    public mutating func key(_ key: StaticString) {
        separator()
        let n = key.utf8CodeUnitCount
        var c = JSONCursor(reserve(n + 3))
        c.byte(UInt8(ascii: "\""))
        c.raw(key)
        c.byte(UInt8(ascii: "\""))
        c.byte(UInt8(ascii: ":"))
        storage.count += n + 3
        needsComma = false
    }

    public mutating func key(_ key: String) {
        string(key)
        byte(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func int(_ value: Int) {
        separator()
        let start = reserve(JSONCursor.maxIntLength)
        var c = JSONCursor(start)
        c.int(value)
        storage.count += c.position - start
    }

    /// Writes a finite double in shortest round-trip form; callers reject NaN and infinity first.
    public mutating func double(_ value: Double) {
        separator()
        let start = reserve(JSONCursor.maxDoubleLength)
        var c = JSONCursor(start)  // no memo: one-off documents should not pay for its table
        c.double(value)
        storage.count += c.position - start
    }

    public mutating func bool(_ value: Bool) {
        separator()
        var c = JSONCursor(reserve(5))
        c.raw(value ? "true" : "false")
        storage.count += value ? 4 : 5
    }

    public mutating func null() {
        separator()
        var c = JSONCursor(reserve(4))
        c.raw("null")
        storage.count += 4
    }

    public mutating func string(_ value: String) {
        var copy = value
        copy.withUTF8 { string(bytes: $0) }
    }

    public mutating func string(bytes value: UnsafeBufferPointer<UInt8>) {
        separator()
        let start = reserve(JSONCursor.maxEscapedLength(value.count))
        var c = JSONCursor(start)
        c.escaped(value)
        storage.count += c.position - start
    }

    public mutating func string(bytes value: [UInt8]) {
        value.withUnsafeBufferPointer { string(bytes: $0) }
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
        byte(UInt8(ascii: "\n"))
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

/// The writer's growable byte buffer (shared between copies of a writer until one of them writes).
@usableFromInline final class ByteStorage {
    @usableFromInline let base: UnsafeMutablePointer<UInt8>
    @usableFromInline let capacity: Int
    // Unchecked: these are read and written once or twice per record, and a dynamic exclusivity
    // check costs more than the work. Only the owning writer touches them, never re-entrantly.
    @exclusivity(unchecked) @usableFromInline var count = 0
    /// Memo of recently formatted doubles; made on first use (see ``DoubleTextCache``).
    @exclusivity(unchecked) @usableFromInline var doubleCache: DoubleTextCache?

    init(capacity: Int) {
        base = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    @inline(__always) @usableFromInline var cache: DoubleTextCache {
        if let c = doubleCache { return c }
        let c = DoubleTextCache()
        doubleCache = c
        return c
    }

    deinit { base.deallocate() }
}

/// A direct-mapped memo from a double's bit pattern to its formatted text.
///
/// Step shards repeat the same few thousand doubles millions of times (every log-probability is
/// an entry of the policy's table, advantages take a handful of values), so most doubles are
/// copied from here instead of formatted. Entries are filled by ``FloatText`` itself, so the bytes
/// are identical to formatting; a miss simply formats and replaces the slot.
@usableFromInline final class DoubleTextCache {
    static let slots = 4096
    static let stride = 32
    /// Bit pattern per slot; NaN (never formatted) marks an empty slot.
    let keys: UnsafeMutablePointer<UInt64>
    /// Per slot: byte 0 is the length, then the text (at most 31 bytes).
    let text: UnsafeMutablePointer<UInt8>

    init() {
        keys = .allocate(capacity: DoubleTextCache.slots)
        keys.initialize(repeating: Double.nan.bitPattern, count: DoubleTextCache.slots)
        // Not zero-filled (128 KiB per writer was 1.2% of an in-process step): a slot's text is
        // read only after its key was set, which happens after the text is written.
        text = .allocate(capacity: DoubleTextCache.slots * DoubleTextCache.stride)
    }

    deinit {
        keys.deallocate()
        text.deallocate()
    }

    /// The slot holding `bits`' text, formatting it there first on a miss; nil when FloatText
    /// does not cover the value.
    @inline(__always) func lookup(_ bits: UInt64) -> UnsafeMutablePointer<UInt8>? {
        let slot = Int(truncatingIfNeeded: (bits &* 0x9E37_79B9_7F4A_7C15) >> 52)
        let entry = text + slot &* DoubleTextCache.stride
        if keys[slot] == bits { return entry }
        guard let n = FloatText.formatShortest(Double(bitPattern: bits), into: entry + 1) else { return nil }
        entry[0] = UInt8(truncatingIfNeeded: n)
        keys[slot] = bits
        return entry
    }
}

/// Writes JSON text through a raw pointer into room a ``JSONWriter`` reserved.
///
/// No bounds checks: the caller reserved enough (each method documents its maximum length).
public struct JSONCursor {
    public private(set) var position: UnsafeMutablePointer<UInt8>
    @usableFromInline let cache: DoubleTextCache?

    @inline(__always) init(_ start: UnsafeMutablePointer<UInt8>, cache: DoubleTextCache? = nil) {
        position = start
        self.cache = cache
    }

    /// "-9223372036854775808".
    public static let maxIntLength = 20
    /// The longest `Double.description` of a finite double is 24 bytes ("-2.2250738585072014e-308").
    public static let maxDoubleLength = 32
    /// A string of n UTF-8 bytes with its quotes, every byte escaped as \u00XX at worst.
    @inline(__always) public static func maxEscapedLength(_ n: Int) -> Int { 6 * n + 2 }

    @inline(__always) public mutating func byte(_ b: UInt8) {
        position.pointee = b
        position += 1
    }

    /// Copies bytes that are already JSON text (a canonical line's unchanged fields).
    @inline(__always) public mutating func bytes(_ text: UnsafeBufferPointer<UInt8>) {
        guard let src = text.baseAddress else { return }
        position.update(from: src, count: text.count)
        position += text.count
    }

    /// Copies constant text (keys, punctuation, schema names).
    @inline(__always) public mutating func raw(_ text: StaticString) {
        let n = text.utf8CodeUnitCount
        position.update(from: text.utf8Start, count: n)
        position += n
    }

    @inline(__always) public mutating func int(_ value: Int) {
        if value < 0 {
            byte(UInt8(ascii: "-"))
            uint(UInt64(value.magnitude))
        } else {
            uint(UInt64(value))
        }
    }

    @inline(__always) public mutating func uint(_ value: UInt64) {
        if value < 10 {
            byte(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        let n = FloatText.decimalLength(value)
        FloatText.writeDigits(value, count: n, into: position)
        position += n
    }

    /// A finite double exactly as `Double.description` writes it.
    @inline(__always) public mutating func double(_ value: Double) {
        precondition(value.isFinite, "JSON cannot hold \(value)")
        // Integral values of moderate size are common (rewards, advantages): write them as "1.0".
        // (An integer conversion and back, not `rounded(.towardZero)`: that is a call to libm's trunc.)
        if abs(value) < 1e15 && Double(Int64(value)) == value {
            if value == 0 && value.sign == .minus { byte(UInt8(ascii: "-")) }
            int(Int(value))
            byte(UInt8(ascii: "."))
            byte(UInt8(ascii: "0"))
            return
        }
        if let cache, let entry = cache.lookup(value.bitPattern) {
            // Slots are 32 bytes and the writer reserved maxDoubleLength (32): copy them all.
            (position).update(from: entry + 1, count: JSONCursor.maxDoubleLength - 1)
            position += Int(entry[0])
            return
        }
        if let n = FloatText.formatShortest(value, into: position) {
            position += n
            return
        }
        var text = value.description  // |v| >= 2^54: rare, allocates
        text.withUTF8 { utf8 in
            position.update(from: utf8.baseAddress!, count: utf8.count)
            position += utf8.count
        }
    }

    /// 16 lower-case hex digits (run and task identifiers), unquoted.
    @inline(__always) public mutating func hex16(_ value: UInt64) {
        let digits: StaticString = "0123456789abcdef"
        let d = digits.utf8Start
        var v = value
        var i = 15
        while i >= 0 {
            position[i] = d[Int(truncatingIfNeeded: v & 15)]
            v >>= 4
            i &-= 1
        }
        position += 16
    }

    /// A quoted, escaped string (see ``escaped(_:)``).
    @inline(__always) public mutating func string(_ value: String) {
        if value.utf8.withContiguousStorageIfAvailable({ escaped($0) }) != nil { return }
        var copy = value  // a bridged string without contiguous UTF-8
        copy.withUTF8 { escaped($0) }
    }

    /// A quoted string: '"', '\\', newline, return and tab escaped as \" \\ \n \r \t, other control
    /// bytes as \u00XX, everything else (including UTF-8 sequences) copied.
    @inline(__always) public mutating func escaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        byte(UInt8(ascii: "\""))
        for b in utf8 {
            if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                byte(b)
                continue
            }
            switch b {
            case UInt8(ascii: "\""): byte(92); byte(34)
            case UInt8(ascii: "\\"): byte(92); byte(92)
            case 0x0A: byte(92); byte(110)
            case 0x0D: byte(92); byte(114)
            case 0x09: byte(92); byte(116)
            default:
                let hex: StaticString = "0123456789abcdef"
                raw("\\u00")
                byte(hex.utf8Start[Int(b >> 4)])
                byte(hex.utf8Start[Int(b & 15)])
            }
        }
        byte(UInt8(ascii: "\""))
    }

    /// `[1,2,3]`: at most 2 + 21 * count bytes.
    @inline(__always) public mutating func intArray(_ values: UnsafeBufferPointer<Int>) {
        byte(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { byte(UInt8(ascii: ",")) }
            int(v)
        }
        byte(UInt8(ascii: "]"))
    }

    /// `[-0.5,-1.25]`: at most 2 + 33 * count bytes.
    ///
    /// A value bit for bit equal to the one before it is written by copying that one's text: a
    /// table row no sample has touched holds one value ten times (a quarter of a default run's
    /// policy rows), and a copy costs a tenth of formatting it.
    @inline(__always) public mutating func doubleArray(_ values: UnsafeBufferPointer<Double>) {
        byte(UInt8(ascii: "["))
        var previousBits: UInt64 = 0
        var previousText = position
        var previousLength = 0  // 0: no value written yet
        for (i, v) in values.enumerated() {
            if i > 0 { byte(UInt8(ascii: ",")) }
            if previousLength > 0 && v.bitPattern == previousBits {
                position.update(from: previousText, count: previousLength)
                position += previousLength
                continue
            }
            let start = position
            double(v)
            previousBits = v.bitPattern
            previousText = start
            previousLength = position - start
        }
        byte(UInt8(ascii: "]"))
    }
}
