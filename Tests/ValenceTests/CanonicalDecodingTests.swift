import Foundation
import Testing
@testable import Valence

/// The canonical-layout fast path of the rollout decoder: it accepts exactly the lines the encoder
/// writes (giving the general decoder's record, and a core that re-encodes to the same bytes) and
/// declines every other spelling, which the general decoder then reads as before.
@Suite struct CanonicalDecodingTests {
    func sample() -> Rollout { TestSupport.sampleRollout() }

    func line(_ r: Rollout, _ schema: Schema) -> [UInt8] {
        var w = JSONWriter()
        r.encode(into: &w, as: schema)
        return w.bytes
    }

    /// Decodes with the fast path only; nil when it declines.
    func fast(_ bytes: [UInt8], _ schema: Schema, _ numbers: NumberTextCache = NumberTextCache()) -> (Rollout, [UInt8])? {
        bytes.withUnsafeBufferPointer { buffer in
            var r = Rollout()
            guard let core = r.decodeCanonical(buffer, as: schema, numbers: numbers) else { return nil }
            var w = JSONWriter()
            r.encode(into: &w, as: schema, core: core)
            return (r, w.bytes)
        }
    }

    func general(_ bytes: [UInt8], _ schema: Schema) throws -> Rollout {
        var r = Rollout()
        try bytes.withUnsafeBufferPointer { try r.decode($0, as: schema) }
        return r
    }

    /// Records in every schema and with every number form the encoder writes.
    func variants() -> [(Rollout, Schema)] {
        var out: [(Rollout, Schema)] = []
        for schema in [Schema.rollout, .verified, .weighted] { out.append((sample(), schema)) }
        var r = sample()
        r.logp = [-0.0, -1.5e-300, -123456789012.5, -Double.leastNonzeroMagnitude]
        r.advantage = -1e9
        r.advantageTokens = [0.5, -2.5e-07, 1e9, -0.0]
        r.verdict = .malformed
        r.reward = 0
        r.text = Array("é12 x".utf8)
        r.prompt = 0
        r.sample = 123_456_789
        r.a = -5
        out.append((r, .weighted))
        r.tokens = []
        r.logp = []
        r.advantageTokens = []
        r.text = []
        out.append((r, .verified))
        out.append((r, .weighted))
        return out
    }

    @Test func encodedLinesTakeTheFastPathAndCopyToTheSameBytes() throws {
        let numbers = NumberTextCache()
        for (r, schema) in variants() {
            let bytes = line(r, schema)
            // Twice with one cache: the first fills it, the second hits.
            for _ in 0..<2 {
                let decoded = try #require(fast(bytes, schema, numbers), "\(String(decoding: bytes, as: UTF8.self))")
                #expect(decoded.0 == (try general(bytes, schema)))
                #expect(decoded.1 == bytes)
            }
        }
    }

    /// Valid spellings the encoder never writes: the fast path declines, the general decoder reads
    /// the sample record, and re-encoding gives the canonical line.
    @Test(arguments: [
        (#""step":3,"#, #""step":3.0,"#), (#""step":3,"#, #""step": 3,"#), (#""adv":0.1"#, #""adv":0.1,"adv_tokens":[]"#),
        (#"-2.0]"#, #"-2]"#), (#"-1e-05"#, #"-1e-5"#), (#"-1e-05"#, #"-0.00001"#), (#"-1e-05"#, #"-1E-05"#),
        (#"-0.38675839551388336"#, #"-0.386758395513883360"#), (#""adv":0.1"#, #""adv":1e-1"#),
        (#""text":"0593""#, #""text":"\u0030593""#), (#"[0,5,9,3]"#, #"[0,5,9,3 ]"#), (#"[0,5,9,3]"#, #"[0,5,9,3.0]"#),
        (#""adv":0.1}"#, #""adv":0.1,"note":1}"#), (#"{"schema""#, #"{ "schema""#), (#""reward":1"#, #""reward":1.0"#),
    ])
    func otherSpellingsTakeTheGeneralPath(_ edit: (String, String)) throws {
        let canonical = String(decoding: line(sample(), .weighted), as: UTF8.self)
        #expect(canonical.contains(edit.0))
        let edited = Array(canonical.replacingOccurrences(of: edit.0, with: edit.1).utf8)
        #expect(fast(edited, .weighted) == nil)
        #expect(try general(edited, .weighted) == sample())
        #expect(line(try general(edited, .weighted), .weighted) == Array(canonical.utf8))
    }

    /// Invalid records in the canonical layout are declined (the general decoder names the error).
    @Test(arguments: [
        (#"-2.0]"#, #"0.5]"#), (#"[0,5,9,3]"#, #"[0,5,9,13]"#), (#"[0,5,9,3]"#, #"[0,5,9]"#),
        (#""reward":1"#, #""reward":0"#), (#""adv":0.1"#, #""adv":2e9"#), (#""adv":0.1"#, #""adv":1e999"#),
        (#""run":"a3e1"#, #""run":"A3E1"#), ("\"text\":\"0593\"", "\"text\":\"05\u{1}93\""), (#""adv":0.1}"#, #""adv":0.1"#),
        (#""adv":0.1}"#, #""adv":0.1}x"#), (#"valence.weighted/1"#, #"valence.verified/1"#),
        (#""verdict":"correct""#, #""verdict":"right""#), (#""prompt":17"#, #""prompt":017"#),
        (#""adv":0.1"#, #""adv":0.1,"adv_tokens":[1.0]"#),
    ])
    func invalidLinesAreDeclined(_ edit: (String, String)) throws {
        let canonical = String(decoding: line(sample(), .weighted), as: UTF8.self)
        #expect(canonical.contains(edit.0))
        let edited = Array(canonical.replacingOccurrences(of: edit.0, with: edit.1).utf8)
        #expect(fast(edited, .weighted) == nil)
        #expect(throws: (any Error).self) { _ = try general(edited, .weighted) }
    }

    /// One cache across lines, as a stage uses it: the remembered line prefix (schema, run, step)
    /// serves only lines that start with exactly those bytes, decoded as the same schema, and a
    /// line that fails midway through its prefix does not disturb it.
    @Test func rememberedPrefixServesOnlyIdenticalBytes() throws {
        let numbers = NumberTextCache()
        let first = sample()
        var other = first
        other.run = Identifier(0x0123_4567_89ab_cdef)
        other.step = 12
        let firstLine = line(first, .weighted)
        #expect(try #require(fast(firstLine, .weighted, numbers)).0 == first)
        #expect(fast(firstLine, .verified, numbers) == nil)
        #expect(try #require(fast(line(other, .weighted), .weighted, numbers)).0 == other)
        let broken = Array(String(decoding: line(first, .weighted), as: UTF8.self)
            .replacingOccurrences(of: #""step":"#, with: #""stop":"#).utf8)
        #expect(fast(broken, .weighted, numbers) == nil)
        #expect(try #require(fast(line(other, .weighted), .weighted, numbers)).0 == other)
        #expect(try #require(fast(firstLine, .weighted, numbers)).0 == first)
        // Same run, a step whose text starts with the remembered one's ("1" then "12").
        var later = first
        later.step = first.step * 10 + 2
        #expect(try #require(fast(line(later, .weighted), .weighted, numbers)).0 == later)
        #expect(try #require(fast(firstLine, .weighted, numbers)).0 == first)
    }

    /// A line in another schema's layout, or extra fields of a later stage, is not canonical for
    /// the schema asked for.
    @Test func otherSchemasAreDeclined() {
        #expect(fast(line(sample(), .weighted), .verified) == nil)
        #expect(fast(line(sample(), .verified), .weighted) == nil)
        #expect(fast(line(sample(), .verified), .rollout) == nil)
        #expect(fast(line(sample(), .rollout), .verified) == nil)
    }
}
