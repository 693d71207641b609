/// Fast, exact conversions between doubles and decimal text for the JSON codec.
///
/// Shards hold millions of doubles, and Swift's `Double.description` plus `strtod` cost ~100-200 ns
/// each (and description allocates for strings over 15 bytes). These two routines do the same work
/// in a few tens of nanoseconds without allocating:
///
/// - ``FloatText/formatShortest(_:into:)`` writes the shortest decimal that reads back as the same
///   double, choosing the digits closest to the exact value (Ryu, Adams 2018), in exactly the
///   layout `Double.description` uses ("0.25", "1e-05", "-3.5e-07"). Byte-for-byte agreement with
///   `description` is checked by differential tests; values it does not cover (|v| >= 2^54) return
///   nil and the caller uses `description`.
/// - ``FloatText/parse(mantissa:exponent:negative:)`` converts w x 10^q (w up to 19 digits) to the
///   correctly rounded double (Eisel-Lemire, Lemire 2021), returning nil in the rare cases it cannot
///   decide (the caller then uses `strtod`).
///
/// Both need 128-bit approximations of powers of five. They are computed once at first use with a
/// small exact big-integer routine rather than pasted in as 1,300 magic constants.
public enum FloatText {
    // MARK: Tables

    /// Ryu: 5^i as its top 125 bits, for i in 0..<326, as (low, high) words.
    static let ryuTableSize = 326
    /// Eisel-Lemire: 5^q normalized to 128 bits for q in -342...308, as (high, low) words.
    static let lemireSmallest = -342
    static let lemireLargest = 308

    /// Both tables in one never-freed allocation (read-only after initialization, so sharing it
    /// between threads is safe).
    struct Tables: @unchecked Sendable {
        let ryu: UnsafeMutablePointer<UInt64>
        let lemire: UnsafeMutablePointer<UInt64>
        /// 10^i for i in 0...19.
        let powersOfTen: UnsafeMutablePointer<UInt64>
    }

    static let tables: Tables = {
        let ryu = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * ryuTableSize)
        let lemireCount = lemireLargest - lemireSmallest + 1
        let lemire = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * lemireCount)
        // Non-negative powers: 5^i exactly, by repeated multiplication.
        var power = BigUInt(1)
        for i in 0..<max(ryuTableSize, lemireLargest + 1) {
            let bits = power.bitLength
            if i < ryuTableSize {
                // floor(5^i * 2^(125 - bits)): the top 125 bits.
                let (hi, lo) = power.shifted(by: 125 - bits).low128
                ryu[2 * i] = lo
                ryu[2 * i + 1] = hi
            }
            if i <= lemireLargest {
                // Normalized so bit 127 is set, truncated.
                let (hi, lo) = power.shifted(by: 128 - bits).low128
                let at = 2 * (i - lemireSmallest)
                lemire[at] = hi
                lemire[at + 1] = lo
            }
            power.multiply(by: 5)
        }
        // Negative powers: floor(2^b / 5^n) + 1 truncated to 128 bits, with b = bits(5^n) + 127
        // for n <= 27 and 2 * bits(5^n) + 128 beyond (the rounding the algorithm's proof assumes).
        // floor(2^b / 5^n) = floor(2^B / 5^n) >> (B - b), so one long division chain serves all n.
        let bigShift = 1792
        var reciprocal = BigUInt(1).shifted(by: bigShift)
        var five = BigUInt(1)
        for n in 1...(-lemireSmallest) {
            reciprocal.divide(by: 5)
            five.multiply(by: 5)
            let z = five.bitLength
            let b = n <= 27 ? z + 127 : 2 * z + 128
            var c = reciprocal.shifted(by: b - bigShift)
            c.add(1)
            let excess = c.bitLength - 128
            if excess > 0 { c = c.shifted(by: -excess) }
            let (hi, lo) = c.low128
            let at = 2 * (-n - lemireSmallest)
            lemire[at] = hi
            lemire[at + 1] = lo
        }
        let powersOfTen = UnsafeMutablePointer<UInt64>.allocate(capacity: 20)
        var ten: UInt64 = 1
        for i in 0..<20 {
            powersOfTen[i] = ten
            if i < 19 { ten *= 10 }
        }
        return Tables(ryu: ryu, lemire: lemire, powersOfTen: powersOfTen)
    }()

    // MARK: Shortest formatting (Ryu)

    /// Upper bound on the bytes ``formatShortest(_:into:)`` writes.
    public static let maxFormattedLength = 32

    /// Writes `value` as `Double.description` would and returns the byte count, or nil when the
    /// value is outside the range handled here (|v| >= 2^54, zero, or not finite).
    @inline(__always)
    public static func formatShortest(_ value: Double, into out: UnsafeMutablePointer<UInt8>) -> Int? {
        let bits = value.bitPattern
        let ieeeMantissa = bits & ((1 << 52) - 1)
        let ieeeExponent = Int((bits >> 52) & 0x7FF)
        if ieeeExponent == 0x7FF || (ieeeExponent == 0 && ieeeMantissa == 0) { return nil }
        let e2: Int
        let m2: UInt64
        if ieeeExponent == 0 {
            e2 = 1 - 1023 - 52 - 2
            m2 = ieeeMantissa
        } else {
            e2 = ieeeExponent - 1023 - 52 - 2
            m2 = (1 << 52) | ieeeMantissa
        }
        // Only the e2 < 0 half of Ryu (every |v| < 2^54, including subnormals) is implemented.
        if e2 >= 0 { return nil }
        let (digits, exponent) = shortestDigits(m2: m2, e2: e2, mmShift: ieeeMantissa != 0 || ieeeExponent <= 1)
        // description switches to exponent form above 2^53, where not every integer is a double.
        let large = ieeeExponent > 1023 + 53 || (ieeeExponent == 1023 + 53 && ieeeMantissa != 0)
        return layout(digits: digits, exponent: exponent, negative: bits >> 63 != 0, large: large, into: out)
    }

    /// The shortest digits `output` and power of ten `exp` with output * 10^exp inside the
    /// rounding interval of m2 * 2^e2, closest to it (ties to even).
    @inline(__always)
    static func shortestDigits(m2: UInt64, e2: Int, mmShift: Bool) -> (UInt64, Int) {
        let acceptBounds = m2 & 1 == 0
        let mv = 4 * m2
        let shift: UInt64 = mmShift ? 1 : 0
        let q = log10Pow5(-e2) - (-e2 > 1 ? 1 : 0)
        let e10 = q + e2
        let i = -e2 - q
        let k = pow5Bits(i) - 125
        let j = q - k
        let table = tables.ryu + 2 * i
        let mulLo = table[0], mulHi = table[1]
        var vr = mulShift(mv, mulLo, mulHi, j)
        var vp = mulShift(mv + 2, mulLo, mulHi, j)
        var vm = mulShift(mv - 1 - shift, mulLo, mulHi, j)
        var vmIsTrailingZeros = false
        var vrIsTrailingZeros = false
        if q <= 1 {
            // mv has at least two trailing zero bits, so vr is exact.
            vrIsTrailingZeros = true
            if acceptBounds { vmIsTrailingZeros = mmShift } else { vp -= 1 }
        } else if q < 63 {
            // vr = floor(mv * 5^i / 2^q) is exact iff 2^q divides mv.
            vrIsTrailingZeros = mv & ((1 << UInt64(q)) - 1) == 0
        }
        var removed = 0
        var lastRemovedDigit: UInt64 = 0
        let output: UInt64
        if vmIsTrailingZeros || vrIsTrailingZeros {
            // The general case (rare): track exactness to round ties to even.
            while true {
                let vpDiv10 = vp / 10, vmDiv10 = vm / 10
                if vpDiv10 <= vmDiv10 { break }
                let vmMod10 = vm - 10 * vmDiv10
                let vrDiv10 = vr / 10
                let vrMod10 = vr - 10 * vrDiv10
                vmIsTrailingZeros = vmIsTrailingZeros && vmMod10 == 0
                vrIsTrailingZeros = vrIsTrailingZeros && lastRemovedDigit == 0
                lastRemovedDigit = vrMod10
                vr = vrDiv10; vp = vpDiv10; vm = vmDiv10
                removed += 1
            }
            if vmIsTrailingZeros {
                while true {
                    let vmDiv10 = vm / 10
                    if vm - 10 * vmDiv10 != 0 { break }
                    let vpDiv10 = vp / 10, vrDiv10 = vr / 10
                    let vrMod10 = vr - 10 * vrDiv10
                    vrIsTrailingZeros = vrIsTrailingZeros && lastRemovedDigit == 0
                    lastRemovedDigit = vrMod10
                    vr = vrDiv10; vp = vpDiv10; vm = vmDiv10
                    removed += 1
                }
            }
            if vrIsTrailingZeros && lastRemovedDigit == 5 && vr % 2 == 0 {
                lastRemovedDigit = 4  // exactly halfway: round to even
            }
            let outside = vr == vm && (!acceptBounds || !vmIsTrailingZeros)
            output = vr + (outside || lastRemovedDigit >= 5 ? 1 : 0)
        } else {
            // The common case: no exactness bookkeeping.
            var roundUp = false
            let vpDiv100 = vp / 100, vmDiv100 = vm / 100
            if vpDiv100 > vmDiv100 {
                let vrDiv100 = vr / 100
                roundUp = vr - 100 * vrDiv100 >= 50
                vr = vrDiv100; vp = vpDiv100; vm = vmDiv100
                removed += 2
            }
            while true {
                let vpDiv10 = vp / 10, vmDiv10 = vm / 10
                if vpDiv10 <= vmDiv10 { break }
                let vrDiv10 = vr / 10
                roundUp = vr - 10 * vrDiv10 >= 5
                vr = vrDiv10; vp = vpDiv10; vm = vmDiv10
                removed += 1
            }
            output = vr + (vr == vm || roundUp ? 1 : 0)
        }
        return (output, e10 + removed)
    }

    /// floor(m * mul / 2^j) for the 125-bit multiplier (mulHi, mulLo); m < 2^56, 64 <= j < 192.
    @inline(__always)
    static func mulShift(_ m: UInt64, _ mulLo: UInt64, _ mulHi: UInt64, _ j: Int) -> UInt64 {
        let low = m.multipliedFullWidth(by: mulLo)
        let high = m.multipliedFullWidth(by: mulHi)
        let (sumLo, carry) = high.low.addingReportingOverflow(low.high)
        let sumHi = high.high &+ (carry ? 1 : 0)
        let s = UInt64(j - 64)
        // Smart shifts: an amount >= 64 yields 0, so s == 0 and s >= 64 need no special case.
        return s >= 64 ? sumHi >> (s - 64) : (sumHi << (64 - s)) | (sumLo >> s)
    }

    @inline(__always) static func pow5Bits(_ e: Int) -> Int { ((e * 1217359) >> 19) + 1 }
    @inline(__always) static func log10Pow5(_ e: Int) -> Int { (e * 732923) >> 20 }

    /// Lays out digits * 10^exponent like `Double.description`: plain decimal for 1e-4 <= |v| <= 2^53
    /// ("0.00012", "12.5", "3.0"), otherwise d.ddde+XX with at least two exponent digits.
    @inline(__always)
    static func layout(digits: UInt64, exponent: Int, negative: Bool, large: Bool, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let count = decimalLength(digits)
        // value = 0.d1d2...dn x 10^point
        let point = exponent &+ count
        var p = 0
        if negative { out[0] = UInt8(ascii: "-"); p = 1 }
        if point < -3 || large {
            // d.ddde+XX
            if count > 1 {
                writeDigits(digits, count: count, dotAfter: 1, into: out + p)
                p &+= count &+ 1
            } else {
                out[p] = UInt8(truncatingIfNeeded: digits) &+ 48
                p &+= 1
            }
            out[p] = UInt8(ascii: "e")
            var e = point &- 1
            if e < 0 { out[p + 1] = UInt8(ascii: "-"); e = 0 &- e } else { out[p + 1] = UInt8(ascii: "+") }
            p &+= 2
            if e >= 100 { out[p] = UInt8(truncatingIfNeeded: e / 100) &+ 48; p &+= 1; e %= 100 }
            out[p] = UInt8(truncatingIfNeeded: e / 10) &+ 48
            out[p + 1] = UInt8(truncatingIfNeeded: e % 10) &+ 48
            return p &+ 2
        }
        if point <= 0 {
            out[p] = UInt8(ascii: "0")
            out[p + 1] = UInt8(ascii: ".")
            p &+= 2
            for _ in 0..<(0 &- point) { out[p] = UInt8(ascii: "0"); p &+= 1 }
            writeDigits(digits, count: count, into: out + p)
            return p &+ count
        }
        if point < count {
            // Integer part, dot, fraction.
            writeDigits(digits, count: count, dotAfter: point, into: out + p)
            return p &+ count &+ 1
        }
        writeDigits(digits, count: count, into: out + p)
        p &+= count
        for _ in 0..<(point &- count) { out[p] = UInt8(ascii: "0"); p &+= 1 }
        out[p] = UInt8(ascii: ".")
        out[p + 1] = UInt8(ascii: "0")
        return p &+ 2
    }

    /// "00" through "99", for writing two digits per division.
    static let digitPairs: StaticString =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    /// Writes the `count` decimal digits of `n` (count == decimalLength(n)).
    @inline(__always)
    static func writeDigits(_ n: UInt64, count: Int, into out: UnsafeMutablePointer<UInt8>) {
        let pairs = digitPairs.utf8Start
        var n = n
        var i = count
        while i >= 2 {
            let q = n / 100
            let r = Int(truncatingIfNeeded: n &- q &* 100) &* 2
            i &-= 2
            out[i] = pairs[r]
            out[i + 1] = pairs[r + 1]
            n = q
        }
        if i == 1 { out[0] = UInt8(truncatingIfNeeded: n) &+ 48 }
    }

    /// Writes the `count` digits of `n` (count == decimalLength(n)) with a "." after the first
    /// `dotAfter` of them (0 < dotAfter < count): count + 1 bytes.
    ///
    /// The fraction's digits go straight to their places right of the dot, then the integer
    /// part's left of it. Writing them all one place right and moving the integer part back over
    /// the gap (as this layout did) read bytes just written by two-byte stores, which the CPU
    /// cannot forward: that move was a quarter of the layout's time, the layout 4% of a run's
    /// (docs/performance.md).
    @inline(__always)
    static func writeDigits(_ n: UInt64, count: Int, dotAfter: Int, into out: UnsafeMutablePointer<UInt8>) {
        let pairs = digitPairs.utf8Start
        var n = n
        var end = count &+ 1  // one past the last fraction digit
        var fraction = count &- dotAfter
        while fraction >= 2 {
            let q = n / 100
            let r = Int(truncatingIfNeeded: n &- q &* 100) &* 2
            end &-= 2
            out[end] = pairs[r]
            out[end &+ 1] = pairs[r &+ 1]
            n = q
            fraction &-= 2
        }
        if fraction == 1 {
            let q = n / 10
            out[end &- 1] = UInt8(truncatingIfNeeded: n &- q &* 10) &+ 48
            n = q
        }
        out[dotAfter] = UInt8(ascii: ".")
        writeDigits(n, count: dotAfter, into: out)
    }

    /// The number of decimal digits of n (n > 0): from its bit length (log10(2) ~ 1233 / 4096),
    /// corrected by one comparison.
    @inline(__always)
    static func decimalLength(_ n: UInt64) -> Int {
        let bits = 64 &- n.leadingZeroBitCount
        let guess = (bits &* 1233) >> 12
        return guess &+ (n >= tables.powersOfTen[guess] ? 1 : 0)
    }

    // MARK: Parsing (Eisel-Lemire)

    /// The double nearest to (-1)^negative * w * 10^q for w < 2^64 holding the number's exact
    /// significant digits, or nil when this method cannot be sure (then use `strtod`).
    @inline(__always)
    public static func parse(mantissa w: UInt64, exponent q: Int, negative: Bool) -> Double? {
        if w == 0 { return negative ? -0.0 : 0.0 }
        if q < lemireSmallest || q > lemireLargest { return nil }
        let lz = w.leadingZeroBitCount
        let wn = w << UInt64(lz)
        let entry = tables.lemire + 2 * (q - lemireSmallest)
        // w x 5^q approximated from its high 64 x 128 bits; precision 52 + 3 bits.
        var first = wn.multipliedFullWidth(by: entry[0])
        let mask: UInt64 = 0xFFFF_FFFF_FFFF_FFFF >> 55
        if first.high & mask == mask {
            let second = wn.multipliedFullWidth(by: entry[1])
            let (sum, carry) = first.low.addingReportingOverflow(second.high)
            first.low = sum
            if carry { first.high &+= 1 }
        }
        if first.low == 0xFFFF_FFFF_FFFF_FFFF && (q < -27 || q > 55) { return nil }
        let hi = first.high
        let upperbit = Int(hi >> 63)
        var mantissa = hi >> UInt64(upperbit + 64 - 52 - 3)
        var power2 = (((q * (152_170 + 65536)) >> 16) + 63) + upperbit - lz + 1023
        // Subnormal results and the exact-tie cases are left to strtod.
        if power2 <= 0 { return nil }
        if first.low <= 1 && q >= -4 && q <= 23 && mantissa & 3 == 1
            && (mantissa << UInt64(upperbit + 64 - 52 - 3)) == hi {
            mantissa &= ~1
        }
        mantissa += mantissa & 1
        mantissa >>= 1
        if mantissa >= (2 << 52) {
            mantissa = 1 << 52
            power2 += 1
        }
        mantissa &= ~(1 << 52)
        if power2 >= 0x7FF { return negative ? -.infinity : .infinity }
        let bits = mantissa | UInt64(power2) << 52 | (negative ? 1 << 63 : 0)
        return Double(bitPattern: bits)
    }
}

/// Just enough arbitrary-precision arithmetic to build the power-of-five tables once.
struct BigUInt {
    /// Little-endian 32-bit limbs, no leading zero limbs (zero is []).
    var limbs: [UInt32]

    init(_ value: UInt32) { limbs = value == 0 ? [] : [value] }

    var bitLength: Int {
        guard let top = limbs.last else { return 0 }
        return (limbs.count - 1) * 32 + (32 - top.leadingZeroBitCount)
    }

    mutating func multiply(by m: UInt32) {
        var carry: UInt64 = 0
        for i in limbs.indices {
            let p = UInt64(limbs[i]) * UInt64(m) + carry
            limbs[i] = UInt32(truncatingIfNeeded: p)
            carry = p >> 32
        }
        if carry != 0 { limbs.append(UInt32(carry)) }
    }

    /// Floor division by a small divisor.
    mutating func divide(by d: UInt32) {
        var remainder: UInt64 = 0
        for i in limbs.indices.reversed() {
            let cur = remainder << 32 | UInt64(limbs[i])
            limbs[i] = UInt32(cur / UInt64(d))
            remainder = cur % UInt64(d)
        }
        while limbs.last == 0 { limbs.removeLast() }
    }

    mutating func add(_ v: UInt32) {
        var carry = UInt64(v)
        var i = 0
        while carry != 0 {
            if i == limbs.count { limbs.append(0) }
            let s = UInt64(limbs[i]) + carry
            limbs[i] = UInt32(truncatingIfNeeded: s)
            carry = s >> 32
            i += 1
        }
    }

    /// self * 2^by for by >= 0, floor(self / 2^-by) otherwise.
    func shifted(by: Int) -> BigUInt {
        var r = BigUInt(0)
        if by >= 0 {
            let whole = by / 32, part = by % 32
            r.limbs = [UInt32](repeating: 0, count: whole) + limbs + [0]
            if part > 0 {
                var carry: UInt32 = 0
                for i in whole..<r.limbs.count {
                    let v = r.limbs[i]
                    r.limbs[i] = v << UInt32(part) | carry
                    carry = v >> UInt32(32 - part)
                }
            }
        } else {
            let whole = -by / 32, part = -by % 32
            guard whole < limbs.count else { return r }
            r.limbs = Array(limbs[whole...])
            if part > 0 {
                for i in r.limbs.indices {
                    let next = i + 1 < r.limbs.count ? r.limbs[i + 1] : 0
                    r.limbs[i] = r.limbs[i] >> UInt32(part) | next << UInt32(32 - part)
                }
            }
        }
        while r.limbs.last == 0 { r.limbs.removeLast() }
        return r
    }

    /// The low 128 bits as (high, low) words.
    var low128: (UInt64, UInt64) {
        func limb(_ i: Int) -> UInt64 { i < limbs.count ? UInt64(limbs[i]) : 0 }
        return (limb(3) << 32 | limb(2), limb(1) << 32 | limb(0))
    }
}
