/// The schema tag every record and manifest carries, as `"schema":"valence.<kind>/<version>"`.
///
/// A reader accepts exactly the versions it knows; anything else is an error naming both, so an
/// old binary never misreads a newer shard.
public enum Schema: String, Sendable, CaseIterable {
    case prompt = "valence.prompt/1"
    case rollout = "valence.rollout/1"
    case verified = "valence.verified/1"
    case weighted = "valence.weighted/1"
    case group = "valence.group/1"
    case policy = "valence.policy/1"
    case adam = "valence.adam/1"
    case critic = "valence.critic/1"
    case gradient = "valence.gradient/1"
    case expected = "valence.expected/1"
    case metrics = "valence.metrics/1"
    case manifest = "valence.manifest/1"
    case config = "valence.config/1"

    /// The tag as constant text, for encoders that write it without building a String.
    var tag: StaticString {
        switch self {
        case .prompt: "valence.prompt/1"
        case .rollout: "valence.rollout/1"
        case .verified: "valence.verified/1"
        case .weighted: "valence.weighted/1"
        case .group: "valence.group/1"
        case .policy: "valence.policy/1"
        case .adam: "valence.adam/1"
        case .critic: "valence.critic/1"
        case .gradient: "valence.gradient/1"
        case .expected: "valence.expected/1"
        case .metrics: "valence.metrics/1"
        case .manifest: "valence.manifest/1"
        case .config: "valence.config/1"
        }
    }

    /// Validates a schema value read from a record.
    static func check(_ found: JSONKey, expected: Schema) throws {
        if found == expected.tag { return }
        throw RecordError("schema is \"\(found.string)\", expected \"\(expected.rawValue)\"")
    }

    static func check(_ found: String, expected: Schema) throws {
        if found == expected.rawValue { return }
        throw RecordError("schema is \"\(found)\", expected \"\(expected.rawValue)\"")
    }
}

/// A 64-bit identifier written as 16 hex digits: a run's or a task's digest.
public struct Identifier: Sendable, Hashable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public var description: String { Digest.hex(value) }

    static func parse(_ key: JSONKey) throws -> Identifier {
        guard key.buffer.count == 16 else { throw RecordError("identifier \"\(key.string)\" is not 16 hex digits") }
        var v: UInt64 = 0
        for c in key.buffer {
            let d: UInt64
            switch c {
            case 48...57: d = UInt64(c - 48)
            case 97...102: d = UInt64(c - 87)
            default: throw RecordError("identifier \"\(key.string)\" is not 16 hex digits")
            }
            v = v << 4 | d
        }
        return Identifier(v)
    }
}

/// Tracks which required fields a decoder has seen.
struct FieldSet {
    var bits: UInt32 = 0
    @inline(__always) mutating func insert(_ bit: UInt32) throws {
        if bits & bit != 0 { throw RecordError("duplicate key") }
        bits |= bit
    }
    @inline(__always) func require(_ bit: UInt32, _ name: StaticString) throws {
        if bits & bit == 0 { throw RecordError("missing field \"\(name)\"") }
    }
}

extension JSONScanner {
    /// A finite number; NaN and infinity cannot appear in valid JSON, but a huge exponent can
    /// overflow to infinity and is rejected here.
    @inline(__always) mutating func finiteDouble(_ name: StaticString) throws -> Double {
        let d = try double()
        guard d.isFinite else { throw RecordError("field \"\(name)\" is not a finite number") }
        return d
    }

    @inline(__always) mutating func intField(_ name: StaticString) throws -> Int {
        do { return try int() } catch { throw RecordError("field \"\(name)\": \(error.message)") }
    }
}
