/// Builds a TensorFlow event file (what TensorBoard reads) in memory, then writes it atomically.
///
/// The file is a sequence of TFRecords, each framing one serialized `tensorflow.Event`:
///
///     uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes
///     data (length bytes)           | uint32 masked CRC-32C of the data
///
/// The first event carries `file_version = "brain.Event:2"`; every later one a `Summary` of
/// scalar values (`Summary.Value { tag = 1; simple_value = 2 }`). Event fields used:
/// `wall_time = 1` (double, seconds), `step = 2` (int64), `file_version = 3`, `summary = 5`.
///
/// Nothing here reads the clock: callers choose the wall times, so the same scalars give the same
/// bytes (see docs/tensorboard.md for the choice Valence makes).
public struct EventFileWriter: Sendable {
    /// One scalar of one event: a tag and its value, stored as a 32-bit float like TensorFlow's
    /// `simple_value`.
    public struct Scalar: Sendable, Equatable {
        public var tag: String
        public var value: Float
        public init(tag: String, value: Float) {
            self.tag = tag
            self.value = value
        }
    }

    /// The version string TensorBoard expects in the first event of a file.
    public static let fileVersion = "brain.Event:2"

    public private(set) var bytes: [UInt8] = []
    /// Events written so far, the file-version event included.
    public private(set) var events = 0

    /// Starts a file with its file-version event at `wallTime`.
    public init(wallTime: Double) {
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.string(3, Self.fileVersion)
        appendRecord(event.bytes)
    }

    /// Appends one event holding `scalars` (in the given order) at `step`.
    public mutating func append(step: Int64, wallTime: Double, scalars: [Scalar]) {
        var summary = ProtobufWriter()
        for scalar in scalars {
            var value = ProtobufWriter()
            value.string(1, scalar.tag)
            value.float(2, scalar.value)
            summary.message(1, value.bytes)
        }
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.int64(2, step)
        event.message(5, summary.bytes)
        appendRecord(event.bytes)
    }

    /// Frames `data` as one TFRecord.
    mutating func appendRecord(_ data: [UInt8]) {
        var header: [UInt8] = []
        let length = UInt64(data.count)
        for i in 0..<8 { header.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        bytes.append(contentsOf: header)
        Self.appendUInt32(CRC32C.maskedChecksum(header), to: &bytes)
        bytes.append(contentsOf: data)
        Self.appendUInt32(CRC32C.maskedChecksum(data), to: &bytes)
        events += 1
    }

    static func appendUInt32(_ value: UInt32, to out: inout [UInt8]) {
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
    }

    /// Writes the file under a temporary name and renames it into place (``FileSystem/writeAtomically(_:bytes:)``).
    public func write(to path: String) throws {
        try FileSystem.writeAtomically(path, bytes: bytes)
    }
}
