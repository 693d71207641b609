/// Encodes the few protocol-buffer field kinds a TensorFlow `Event` needs, in wire format.
///
/// Fields are appended in the order they are written (callers write them in field-number order,
/// as protoc does, so the bytes are canonical). Each call is O(size of the field).
public struct ProtobufWriter: Sendable {
    /// Wire types (protobuf encoding guide).
    public enum WireType: UInt64, Sendable {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Base-128 varint: seven bits per byte, least significant group first, high bit set on every
    /// byte but the last. At most 10 bytes for a 64-bit value.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// The key of a field: `(field << 3) | wire type`, as a varint.
    public mutating func key(_ field: UInt64, _ wire: WireType) {
        varint(field << 3 | wire.rawValue)
    }

    /// An `int64` field (negative values take ten bytes, as in protoc's encoding).
    public mutating func int64(_ field: UInt64, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A `double` field: eight bytes, little-endian IEEE 754.
    public mutating func double(_ field: UInt64, _ value: Double) {
        key(field, .fixed64)
        littleEndian(value.bitPattern, count: 8)
    }

    /// A `float` field: four bytes, little-endian IEEE 754.
    public mutating func float(_ field: UInt64, _ value: Float) {
        key(field, .fixed32)
        littleEndian(UInt64(value.bitPattern), count: 4)
    }

    /// A `string` field (UTF-8 bytes, length first).
    public mutating func string(_ field: UInt64, _ value: String) {
        message(field, Array(value.utf8))
    }

    /// An embedded message (or `bytes`) field: its encoded bytes, length first.
    public mutating func message(_ field: UInt64, _ encoded: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(encoded.count))
        bytes.append(contentsOf: encoded)
    }

    mutating func littleEndian(_ value: UInt64, count: Int) {
        for i in 0..<count { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
}
