import Foundation
import Testing
@testable import Valence

/// The hand-written JSON codec: exact doubles both ways, byte-stable records, and a decoder that
/// takes anything a person or jq may write for a schema and nothing else.
@Suite struct CodecTests {
    // MARK: Doubles

    /// Writes `v` as a record encoder does (through a cursor, memo cache included).
    func written(_ v: Double, _ w: inout JSONWriter) -> String {
        w.reset()
        w.appendRaw(maxCount: JSONCursor.maxDoubleLength) { $0.double(v) }
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Scans `text` as one JSON number.
    func scanned(_ text: String) throws -> Double {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buf in
            var s = JSONScanner(buf)
            let d = try s.double()
            try s.finish()
            return d
        }
    }

    /// Doubles that stress the formatter and parser: extremes, subnormals, powers of ten and two
    /// and their neighbours, layout boundaries (1e-4, 2^53), and many random bit patterns.
    var hardDoubles: [Double] {
        var values: [Double] = [
            .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, .ulpOfOne,
            Double.leastNormalMagnitude.nextDown, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 1e-4, 9.999999999999999e-5, 1e-5, 123e-20,
            9007199254740992, 9007199254740994, 18014398509481984, 1e15 + 0.5, 1e16, 1e21, 1e22, 1e23,
            -0.38675839551388336, -1.650556159363573, -2.3025850929940455, 0.5, 1.5, -0.0, 0.0, 100.25,
        ]
        for e in stride(from: -1074, through: 1023, by: 11) {
            let v = Double(sign: .plus, exponent: e, significand: 1)
            values += [v, v.nextUp, v.nextDown]
        }
        for p in stride(from: -323, through: 308, by: 3) {
            if let v = Double("1e\(p)") { values += [v, v.nextUp, v.nextDown] }
        }
        var rng = SplitMix(seed: 42)
        for _ in 0..<3_000 {
            let v = Double(bitPattern: rng.next())
            if v.isFinite { values.append(v) }
            values.append(-Double(rng.next() >> 11) * 0x1p-50)  // log-probability-like
        }
        // The dot at every position of a 1-17 digit number, and exponent forms with 1-17 digits.
        let scales: [Double] = (0..<40).compactMap { Double("1e\($0 - 20)") }
        for i in 0..<6_000 {
            let digits = Double(rng.next() >> UInt64(11 + (i % 7) * 7)) * 0x1p-53
            values.append((i % 2 == 0 ? 1 : -1) * digits * scales[i % scales.count])
        }
        return values
    }

    @Test func doublesAreWrittenExactlyAsSwiftDescription() {
        var mismatches: [String] = []
        var w = JSONWriter()
        for v in hardDoubles {
            let expected = v.description
            let got = written(v, &w)
            if got != expected { mismatches.append("\(v.bitPattern): \(got) != \(expected)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    /// Integers of every length 1-20 (the writer's `uint`, whose digit writer a double's digits also
    /// go through), exactly as `String` writes them.
    @Test func integersOfEveryLengthAreWrittenAsStringWritesThem() {
        var rng = SplitMix(seed: 3)
        var mismatches: [String] = []
        for count in 1...20 {
            let low: UInt64 = count == 1 ? 0 : (1..<count).reduce(1) { r, _ in r * 10 }
            let span: UInt64 = count == 20 ? UInt64.max - low : low * 9 + (count == 1 ? 10 : 0)
            for i in 0..<400 {
                let n = i == 0 ? low : i == 1 ? low + span - (count == 20 ? 0 : 1) : low + rng.next() % span
                var w = JSONWriter()
                w.appendRaw(maxCount: JSONCursor.maxIntLength) { $0.uint(n) }
                if String(decoding: w.bytes, as: UTF8.self) != String(n) { mismatches.append("\(n)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func doublesRoundTripThroughWriterAndScanner() throws {
        var w = JSONWriter()
        for v in hardDoubles {
            let text = written(v, &w)
            let back = try scanned(text)
            #expect(back.bitPattern == v.bitPattern, "\(v) -> \(text) -> \(back)")
        }
    }

    @Test func theMemoCacheGivesTheSameBytesAsFormatting() {
        // Many repeats of few values (the cache path) interleaved with fresh ones (the miss path).
        var w = JSONWriter()
        var expected = ""
        var rng = SplitMix(seed: 7)
        let table = (0..<50).map { _ in -Double(rng.next() >> 11) * 0x1p-51 }
        for i in 0..<5_000 {
            let v = i % 3 == 0 ? -Double(rng.next() >> 11) * 0x1p-49 : table[i % table.count]
            w.appendRaw(maxCount: JSONCursor.maxDoubleLength) { $0.double(v) }
            expected += (i == 0 ? "" : ",") + v.description
        }
        #expect(String(decoding: w.bytes, as: UTF8.self) == expected)
    }

    @Test(arguments: [
        ("1", 1.0), ("1.0", 1.0), ("1e0", 1.0), ("10E-1", 1.0), ("0.1e1", 1.0), ("-0", -0.0), ("0.000", 0.0),
        ("1E+2", 100.0), ("-2.5e-3", -0.0025), ("123456789012345678901234567890", 1.2345678901234568e29),
        ("0.10000000000000000555111512312578270211815834045410156250", 0.1), ("2.4703282292062328e-324", .leastNonzeroMagnitude),
        ("4.9406564584124654e-324", .leastNonzeroMagnitude), ("1.7976931348623157e308", .greatestFiniteMagnitude),
        ("-0.38675839551388336", -0.38675839551388336), ("9007199254740993", 9007199254740992), ("9007199254740995", 9007199254740996),
    ])
    func numbersInAnyValidSpellingParseExactly(_ text: String, _ value: Double) throws {
        let d = try scanned(text)
        #expect(d.bitPattern == value.bitPattern, "\(text) -> \(d)")
    }

    @Test(arguments: ["", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "0x10", "1_000", "NaN", "Infinity",
                      "1.5.2", "1e5e5", "--1", "1 2"])
    func invalidNumbersAreRejected(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { _ = try scanned(text) }
    }

    @Test func aStrtodSampleAgreesWithTheScanner() throws {
        // Random decimal strings of up to 20 digits: the scanner's fast paths against strtod.
        var rng = SplitMix(seed: 99)
        for _ in 0..<5_000 {
            let digits = String(rng.next() % 100_000_000_000_000_000)
            let exp = Int(rng.next() % 80) - 40
            let text = "\(digits)e\(exp)"
            let expected = strtod(text, nil)
            #expect(try scanned(text).bitPattern == expected.bitPattern, "\(text)")
        }
    }

    // MARK: Records

    func sampleRollout() -> Rollout { TestSupport.sampleRollout() }

    func encoded(_ r: Rollout, _ schema: Schema) -> String {
        var w = JSONWriter()
        r.encode(into: &w, as: schema)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    func decoded(_ text: String, _ schema: Schema) throws -> Rollout {
        var r = Rollout()
        try Array(text.utf8).withUnsafeBufferPointer { try r.decode($0, as: schema) }
        return r
    }

    @Test func rolloutBytesAreStable() {
        #expect(encoded(sampleRollout(), .weighted) == """
            {"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,\
            "text":"0593","tokens":[0,5,9,3],"logp":[-0.38675839551388336,-0.34456174064532535,-1e-05,-2.0],\
            "verdict":"correct","reward":1,"adv":0.1}
            """)
        #expect(encoded(sampleRollout(), .rollout).hasSuffix(#""logp":[-0.38675839551388336,-0.34456174064532535,-1e-05,-2.0]}"#))
    }

    @Test func rolloutsRoundTripInEverySchema() throws {
        for schema in [Schema.rollout, .verified, .weighted] {
            // Fields a schema does not carry keep the decoder's defaults.
            var want = sampleRollout()
            if schema == .rollout { want.verdict = Rollout().verdict; want.reward = Rollout().reward }
            if schema != .weighted { want.advantage = Rollout().advantage }
            #expect(try decoded(encoded(sampleRollout(), schema), schema) == want)
        }
    }

    @Test func textWithEscapesRoundTrips() throws {
        var r = sampleRollout()
        r.text = Array("a\"b\\c\nd\u{1}é".utf8)
        r.tokens = []
        r.logp = []
        let back = try decoded(encoded(r, .verified), .verified)
        #expect(back.text == r.text)
        #expect(encoded(r, .verified).contains(#""text":"a\"b\\c\nd\u0001é""#))
    }

    /// What `jq` or a person may write: another key order, whitespace, escapes in keys and values,
    /// exponents and 1.0 for integers, unknown keys.
    @Test(arguments: [
        #"{"adv":0.1,"reward":1,"verdict":"correct","logp":[-0.38675839551388336,-0.34456174064532535,-1e-05,-2],"tokens":[0,5,9,3],"text":"0593","b":571,"a":22,"sample":4,"prompt":17,"step":3,"run":"a3e1eac049c5a726","schema":"valence.weighted/1"}"#,
        """
        {
          "schema": "valence.weighted/1", "run": "a3e1eac049c5a726", "step": 3, "prompt": 17, "sample": 4,
          "a": 22, "b": 571, "text": "0593", "tokens": [ 0, 5, 9, 3 ],
          "logp": [ -0.38675839551388336, -0.34456174064532535, -0.00001, -2.0 ],
          "verdict": "correct", "reward": 1, "adv": 0.1, "note": {"by": ["hand", null, true]}
        }
        """,
        #"{"s\u0063hema":"valence.weighted\/1","run":"a3e1eac049c5a726","step":3.0,"prompt":1.7e1,"sample":4,"a":22,"b":571,"text":"\u0030593","tokens":[0,5,9,3E0],"logp":[-3.8675839551388336E-1,-0.34456174064532535,-1e-5,-2],"verdict":"correct","reward":1,"adv":1e-1}"#,
    ])
    func jqStyleRewritesAreAccepted(_ text: String) throws {
        #expect(try decoded(text, .weighted) == sampleRollout())
    }

    @Test(arguments: [
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1}x"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1,}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1}"#,
        #"{"schema":"valence.verified/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,NaN],"verdict":"correct","reward":1,"adv":0.1}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,0.5],"verdict":"correct","reward":1,"adv":0.1}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,13],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":0,"adv":0.1}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3.5,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1}"#,
        #"{"schema":"valence.weighted/1","run":"A3E1EAC049C5A726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"05\x93","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":0.1}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"correct","reward":1,"adv":1e999}"#,
        #"{"schema":"valence.weighted/1","run":"a3e1eac049c5a726","step":3,"prompt":17,"sample":4,"a":22,"b":571,"text":"0593","tokens":[0,5,9,3],"logp":[-0.3,-0.3,-0.3,-2.0],"verdict":"right","reward":1,"adv":0.1}"#,
        #"["schema"]"#,
        "",
    ])
    func invalidRecordsAreRejected(_ text: String) {
        #expect(throws: (any Error).self) { _ = try decoded(text, .weighted) }
    }

    @Test func groupRecordsRoundTrip() throws {
        var g = GroupRecord()
        g.run = Identifier(0x0123_4567_89ab_cdef)
        g.step = 2
        g.prompt = 9
        g.samples = 8
        g.correct = 3
        g.wrong = 4
        g.malformed = 1
        var w = JSONWriter()
        g.encode(into: &w)
        let text = String(decoding: w.bytes, as: UTF8.self)
        #expect(text == #"{"schema":"valence.group/1","run":"0123456789abcdef","step":2,"prompt":9,"samples":8,"correct":3,"wrong":4,"malformed":1}"#)
        var back = GroupRecord()
        try w.bytes.withUnsafeBufferPointer { try back.decode($0) }
        #expect(back == g)
    }
}

/// A small deterministic generator for test inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
