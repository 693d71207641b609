#if canImport(Glibc)
import Glibc
#endif

/// The bytes of a canonical rollout line from `,"run":` through the closing `]` of `logp`: exactly
/// what ``Rollout/encode(into:as:core:)`` would write for those fields, so an encoder may copy them.
///
/// Valid only while the line it points into is (inside the shard reader's callback) and only while
/// the record's fields `run` through `logp` are unchanged since it was decoded.
public struct RolloutCore {
    public let bytes: UnsafeBufferPointer<UInt8>
}

extension Rollout {
    /// Decodes a line laid out exactly as ``encode(into:as:)`` writes it (the canonical layout of
    /// every shard Valence writes) in one straight pass, validating as it goes.
    ///
    /// Returns nil, with `self` in an unspecified state, on any difference from that layout: other
    /// key order, whitespace, escapes, a number not in shortest form, an extra or missing field, or
    /// a value the general decoder would reject. The caller then runs ``decode(_:as:)``, which
    /// accepts every valid spelling and names the error, so a hand-edited shard decodes exactly as
    /// before. When it returns a core, the line is canonical: re-encoding the record gives the line's
    /// bytes, and the record equals what ``decode(_:as:)`` gives (`FuzzTests` and `CodecTests`
    /// check both).
    ///
    /// Checks made here are the general decoder's: schema tag, 16 hex digit run, integers, tokens
    /// 0-9, log-probabilities finite and <= 0 (as many as tokens), verdict and a reward that agrees
    /// with it, and an advantage (and token advantages) within +-``maxAdvantage``.
    mutating func decodeCanonical(_ line: UnsafeBufferPointer<UInt8>, as schema: Schema,
                                  numbers: NumberTextCache) -> RolloutCore? {
        guard let base = line.baseAddress else { return nil }
        var p = CanonicalLine(base: base, end: line.count)
        switch schema {
        case .rollout: guard p.literal("{\"schema\":\"valence.rollout/1\"") else { return nil }
        case .verified: guard p.literal("{\"schema\":\"valence.verified/1\"") else { return nil }
        case .weighted: guard p.literal("{\"schema\":\"valence.weighted/1\"") else { return nil }
        default: return nil
        }
        let coreStart = p.pos
        // Every line of a shard starts with the same schema, run and step: when this line's first
        // bytes through `,"prompt":` equal the last canonical line's, so do their values.
        let id: Identifier, step: Int
        if let known = numbers.prefix(matching: base, count: line.count) {
            p.pos = known.length
            (id, step) = (known.run, known.step)
        } else {
            guard p.literal(",\"run\":\""), let parsedID = p.run(numbers), p.literal("\",\"step\":"), let parsedStep = p.int(),
                  p.literal(",\"prompt\":") else { return nil }
            (id, step) = (parsedID, parsedStep)
            numbers.remember(prefix: base, length: p.pos, run: id, step: step)
        }
        guard let prompt = p.int(), p.literal(",\"sample\":"), let sample = p.int(),
              p.literal(",\"a\":"), let a = p.int(), p.literal(",\"b\":"), let b = p.int(),
              p.literal(",\"text\":\""), let text = p.plainString(), p.literal(",\"tokens\":[")
        else { return nil }
        // Arrays are parsed into scratch space and stored once complete (overwritten in place when
        // the length repeats, as it does within a step).
        let limit = NumberTextCache.scratchCount
        let tokenScratch = numbers.tokens, logpScratch = numbers.doubles
        var count = 0
        if !p.byte(UInt8(ascii: "]")) {
            while true {
                guard count < limit, let t = p.digit() else { return nil }
                tokenScratch[count] = t
                count &+= 1
                if p.byte(UInt8(ascii: ",")) { continue }
                guard p.byte(UInt8(ascii: "]")) else { return nil }
                break
            }
        }
        guard p.literal(",\"logp\":[") else { return nil }
        var logpCount = 0
        if !p.byte(UInt8(ascii: "]")) {
            while true {
                guard logpCount < limit, let v = p.double(numbers), v <= 0 else { return nil }
                logpScratch[logpCount] = v
                logpCount &+= 1
                if p.byte(UInt8(ascii: ",")) { continue }
                guard p.byte(UInt8(ascii: "]")) else { return nil }
                break
            }
        }
        guard count == logpCount else { return nil }
        let coreEnd = p.pos
        var advantageCount = 0
        if schema != .rollout {
            guard p.literal(",\"verdict\":\"") else { return nil }
            if p.literal("correct\"") { verdict = .correct }
            else if p.literal("wrong\"") { verdict = .wrong }
            else if p.literal("malformed\"") { verdict = .malformed }
            else { return nil }
            guard p.literal(",\"reward\":"), let r = p.int(), r == verdict.reward else { return nil }
            reward = r
        }
        if schema == .weighted {
            guard p.literal(",\"adv\":"), let v = p.double(numbers), abs(v) <= Rollout.maxAdvantage else { return nil }
            advantage = v
            if p.literal(",\"adv_tokens\":[") {
                // Written only when non-empty, one per token.
                let scratch = numbers.advantages
                while true {
                    guard advantageCount < limit, let v = p.double(numbers), abs(v) <= Rollout.maxAdvantage else { return nil }
                    scratch[advantageCount] = v
                    advantageCount &+= 1
                    if p.byte(UInt8(ascii: ",")) { continue }
                    guard p.byte(UInt8(ascii: "]")) else { return nil }
                    break
                }
                guard advantageCount == count else { return nil }
            }
        }
        guard p.byte(UInt8(ascii: "}")), p.pos == p.end else { return nil }
        run = id
        self.step = step
        self.prompt = prompt
        self.sample = sample
        self.a = a
        self.b = b
        store(&self.text, base + text.lowerBound, text.count)
        store(&tokens, tokenScratch, count)
        store(&logp, logpScratch, count)
        store(&advantageTokens, numbers.advantages, advantageCount)
        return RolloutCore(bytes: UnsafeBufferPointer(start: base + coreStart, count: coreEnd - coreStart))
    }

    /// Sets `array` to `count` elements from `source`, reusing its storage when the count repeats.
    @inline(__always) private func store<T>(_ array: inout [T], _ source: UnsafePointer<T>, _ count: Int) {
        if array.count == count {
            if count > 0 { array.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: source, count: count) } }
        } else {
            array = Array(UnsafeBufferPointer(start: source, count: count))
        }
    }

    /// Decodes a line: the canonical fast path first, the general decoder when it declines.
    /// Returns the line's core when the line is canonical (see ``RolloutCore``).
    public mutating func decode(_ line: UnsafeBufferPointer<UInt8>, as schema: Schema,
                                numbers: NumberTextCache) throws -> RolloutCore? {
        if let core = decodeCanonical(line, as: schema, numbers: numbers) { return core }
        try decode(line, as: schema)
        return nil
    }
}

/// A cursor over one line that matches the canonical layout; every method consumes input only on
/// success.
struct CanonicalLine {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos = 0

    init(base: UnsafePointer<UInt8>, end: Int) {
        self.base = base
        self.end = end
    }

    @inline(__always) mutating func literal(_ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard end &- pos >= n, memcmp(base + pos, text.utf8Start, n) == 0 else { return false }
        pos &+= n
        return true
    }

    @inline(__always) mutating func byte(_ c: UInt8) -> Bool {
        guard pos < end, base[pos] == c else { return false }
        pos &+= 1
        return true
    }

    /// One digit 0-9 (a token: canonical tokens are single digits).
    @inline(__always) mutating func digit() -> Int? {
        guard pos < end else { return nil }
        let d = base[pos] &- 48
        guard d <= 9 else { return nil }
        pos &+= 1
        return Int(d)
    }

    /// An integer as `JSONCursor.int` writes it: optional '-', no leading zero, no "-0", at most
    /// 18 digits (so no overflow; longer values take the general path).
    @inline(__always) mutating func int() -> Int? {
        var p = pos
        let negative = p < end && base[p] == UInt8(ascii: "-")
        if negative { p &+= 1 }
        let start = p
        var v = 0
        while p < end {
            let d = base[p] &- 48
            if d > 9 { break }
            v = v &* 10 &+ Int(d)
            p &+= 1
        }
        let n = p &- start
        guard n >= 1, n <= 18, n == 1 || base[start] != UInt8(ascii: "0"), !(negative && v == 0) else { return nil }
        pos = p
        return negative ? -v : v
    }

    /// A run identifier: 16 lower-case hex digits. The text of the previous one is remembered (all
    /// records of a shard share it), so the usual case is two compares.
    @inline(__always) mutating func run(_ numbers: NumberTextCache) -> Identifier? {
        guard end &- pos >= 16 else { return nil }
        let raw = UnsafeRawPointer(base + pos)
        let w0 = raw.loadUnaligned(as: UInt64.self), w1 = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        if numbers.runText.0 == w0 && numbers.runText.1 == w1 && numbers.runText.0 != 0 {
            pos &+= 16
            return numbers.run
        }
        guard let id = hex16() else { return nil }
        numbers.runText = (w0, w1)
        numbers.run = id
        return id
    }

    /// 16 lower-case hex digits.
    @inline(__always) mutating func hex16() -> Identifier? {
        guard end &- pos >= 16 else { return nil }
        var v: UInt64 = 0
        for i in 0..<16 {
            let c = base[pos &+ i]
            let d: UInt64
            if c &- 48 <= 9 { d = UInt64(c &- 48) }
            else if c &- 97 <= 5 { d = UInt64(c &- 87) }
            else { return nil }
            v = v << 4 | d
        }
        pos &+= 16
        return Identifier(v)
    }

    /// The rest of a string whose opening quote was consumed, if it needs no escape (bytes >= 0x20
    /// other than '"' and '\': what `JSONCursor.escaped` copies as they are); consumes the closing
    /// quote and returns the content's range.
    @inline(__always) mutating func plainString() -> Range<Int>? {
        var p = pos
        while p < end {
            let c = base[p]
            if c == UInt8(ascii: "\"") {
                let range = pos..<p
                pos = p &+ 1
                return range
            }
            if c < 0x20 || c == UInt8(ascii: "\\") { return nil }
            p &+= 1
        }
        return nil
    }

    /// A number written in shortest form (as `JSONCursor.double` writes it), followed by ',', ']'
    /// or '}'.
    @inline(__always) mutating func double(_ numbers: NumberTextCache) -> Double? {
        guard let (v, n) = numbers.value(base + pos, available: end &- pos) else { return nil }
        pos &+= n
        return v
    }
}

/// Reusable state for decoding canonical lines: a map from the text of numbers to their values,
/// the last run identifier and scratch space for arrays.
///
/// A step's doubles repeat: log-probabilities are entries of the policy table, advantages take a
/// handful of values. So the text of each number (up to 24 bytes, zero-padded into three words)
/// is looked up in a 2-way set-associative table; a hit is three compares. A miss parses the text
/// with ``JSONScanner/double()``, formats the value the way the encoder does and keeps the entry
/// only if the two texts are identical, so a hit means "this is a canonical number with this exact
/// value" and anything else (a longer spelling, an exponent the encoder would not write) declines.
public final class NumberTextCache {
    static let buckets = 4096
    /// Per entry: three words of zero-padded text, then the value's bit pattern; two entries per
    /// bucket. All-zero words mark an empty entry (number text never starts with a 0 byte).
    let table: UnsafeMutablePointer<UInt64>
    /// Longest array the fast path takes (responses are a few tokens); longer ones decline.
    static let scratchCount = 64
    let tokens: UnsafeMutablePointer<Int>
    let doubles: UnsafeMutablePointer<Double>
    let advantages: UnsafeMutablePointer<Double>
    /// The 16 hex digits of the last run identifier read (zero before the first) and its value.
    /// (Unchecked exclusivity: read once per line by the one decoder that owns this object.)
    @exclusivity(unchecked) var runText: (UInt64, UInt64) = (0, 0)
    @exclusivity(unchecked) var run = Identifier(0)
    /// The first bytes of the last canonical line, through `,"prompt":` (schema tag, run and step),
    /// and its run and step; length 0 before the first. (The schema tag was checked against the
    /// schema asked for before the prefix is compared.)
    static let prefixCapacity = 128
    let prefixBytes: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) var prefixLength = 0
    @exclusivity(unchecked) var prefixRun = Identifier(0)
    @exclusivity(unchecked) var prefixStep = 0

    public init() {
        // calloc: a table this size comes from fresh zero pages, not a 256 KiB memset per shard read.
        guard let zeroed = calloc(NumberTextCache.buckets * 8, MemoryLayout<UInt64>.stride) else {
            preconditionFailure("out of memory for a 256 KiB number cache")
        }
        table = zeroed.assumingMemoryBound(to: UInt64.self)
        tokens = .allocate(capacity: NumberTextCache.scratchCount)
        tokens.initialize(repeating: 0, count: NumberTextCache.scratchCount)
        doubles = .allocate(capacity: NumberTextCache.scratchCount)
        doubles.initialize(repeating: 0, count: NumberTextCache.scratchCount)
        advantages = .allocate(capacity: NumberTextCache.scratchCount)
        advantages.initialize(repeating: 0, count: NumberTextCache.scratchCount)
        prefixBytes = .allocate(capacity: NumberTextCache.prefixCapacity)
        prefixBytes.initialize(repeating: 0, count: NumberTextCache.prefixCapacity)
    }

    /// The remembered prefix's length, run and step when `line` (of `count` bytes) starts with it
    /// and goes on after it.
    @inline(__always) func prefix(matching line: UnsafePointer<UInt8>, count: Int)
        -> (length: Int, run: Identifier, step: Int)? {
        let n = prefixLength
        guard n > 0, count > n, memcmp(line, prefixBytes, n) == 0 else { return nil }
        return (n, prefixRun, prefixStep)
    }

    /// Remembers a validated line prefix (see ``prefix(matching:count:)``).
    @inline(__always) func remember(prefix line: UnsafePointer<UInt8>, length: Int, run id: Identifier, step: Int) {
        guard length <= NumberTextCache.prefixCapacity else { prefixLength = 0; return }
        prefixBytes.update(from: line, count: length)
        prefixLength = length
        prefixRun = id
        prefixStep = step
    }

    deinit {
        free(table)
        tokens.deallocate()
        doubles.deallocate()
        advantages.deallocate()
        prefixBytes.deallocate()
    }

    /// High bit of each byte of `w` that is ',', ']' or '}'; exact for the lowest such byte.
    @inline(__always) static func terminators(_ w: UInt64) -> UInt64 {
        @inline(__always) func zeros(_ x: UInt64) -> UInt64 {
            (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
        }
        // ']' (0x5D) and '}' (0x7D) differ only in bit 0x20, and no other byte ORed with 0x20 is 0x7D.
        return zeros(w ^ 0x2C2C_2C2C_2C2C_2C2C) | zeros((w | 0x2020_2020_2020_2020) ^ 0x7D7D_7D7D_7D7D_7D7D)
    }

    /// The value of the canonical number at `p` and its length, or nil.
    @inline(__always) func value(_ p: UnsafePointer<UInt8>, available: Int) -> (Double, Int)? {
        var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0
        if available >= 24 {
            let raw = UnsafeRawPointer(p)
            w0 = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
            w1 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            w2 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        } else {
            _ = withUnsafeMutableBytes(of: &w0) { memcpy($0.baseAddress!, p, min(available, 8)) }
            if available > 8 { _ = withUnsafeMutableBytes(of: &w1) { memcpy($0.baseAddress!, p + 8, min(available - 8, 8)) } }
            if available > 16 { _ = withUnsafeMutableBytes(of: &w2) { memcpy($0.baseAddress!, p + 16, available - 16) } }
        }
        // The number ends at the first terminator; canonical numbers are 1 to 24 bytes.
        let n: Int
        var t = NumberTextCache.terminators(w0)
        if t != 0 {
            n = t.trailingZeroBitCount >> 3
            w0 &= (1 << (UInt64(n) << 3)) &- 1
            w1 = 0
            w2 = 0
        } else {
            t = NumberTextCache.terminators(w1)
            if t != 0 {
                let k = t.trailingZeroBitCount >> 3
                n = 8 &+ k
                w1 &= (1 << (UInt64(k) << 3)) &- 1
                w2 = 0
            } else {
                t = NumberTextCache.terminators(w2)
                guard t != 0 else { return nil }
                let k = t.trailingZeroBitCount >> 3
                n = 16 &+ k
                w2 &= (1 << (UInt64(k) << 3)) &- 1
            }
        }
        guard n > 0, n <= available else { return nil }
        let h = (w0 &* 0x9E37_79B9_7F4A_7C15) ^ (w1 &* 0xC2B2_AE3D_27D4_EB4F) ^ (w2 &* 0x1656_67B1_9E37_79F9)
        let entry = table + Int(truncatingIfNeeded: h >> 52) &* 8
        if entry[0] == w0 && entry[1] == w1 && entry[2] == w2 {
            return (Double(bitPattern: entry[3]), n)
        }
        if entry[4] == w0 && entry[5] == w1 && entry[6] == w2 {
            return (Double(bitPattern: entry[7]), n)
        }
        guard let v = NumberTextCache.canonicalValue(p, count: n) else { return nil }
        // Newest entry first; the older one moves to the second way.
        entry[4] = entry[0]; entry[5] = entry[1]; entry[6] = entry[2]; entry[7] = entry[3]
        entry[0] = w0; entry[1] = w1; entry[2] = w2; entry[3] = v.bitPattern
        return (v, n)
    }

    /// The value of `count` bytes at `p` if they are a finite JSON number written exactly as
    /// `JSONCursor.double` writes that value.
    static func canonicalValue(_ p: UnsafePointer<UInt8>, count n: Int) -> Double? {
        var scanner = JSONScanner(UnsafeBufferPointer(start: p, count: n))
        guard let v = try? scanner.double(), scanner.pos == n, v.isFinite else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: JSONCursor.maxDoubleLength) { buffer in
            var cursor = JSONCursor(buffer.baseAddress!)
            cursor.double(v)
            let written = cursor.position - buffer.baseAddress!
            return written == n && memcmp(buffer.baseAddress!, p, n) == 0 ? v : nil
        }
    }
}
