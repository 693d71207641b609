#if canImport(Glibc)
import Glibc
#endif

/// A 64-bit FNV-1a hash: the checksum in manifests and the basis of run and input digests.
///
/// Not cryptographic: it detects accidental change (a truncated copy, a stale input, a hand edit),
/// which is all a manifest needs, and it is small enough to state exactly in the docs.
public struct Digest: Sendable, Hashable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    @inline(__always)
    public mutating func update(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        var h = value
        for byte in buffer { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        value = h
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Hashes the string's UTF-8 bytes followed by a 0 separator, so ("ab","c") != ("a","bc").
    public mutating func update(_ text: String) {
        for byte in text.utf8 { update(byte) }
        update(UInt8(0))
    }

    public mutating func update(_ number: Int) {
        update(String(number))
    }

    /// 16 lower-case hex digits.
    public var hex: String { Digest.hex(value) }

    public static func hex(_ value: UInt64) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    public static func of(_ bytes: [UInt8]) -> Digest {
        var d = Digest()
        d.update(bytes)
        return d
    }

    /// The digest of the file's bytes: from ``DigestCache/shared`` when this process has written
    /// or hashed this very version of the file, else read and hashed (and recorded there).
    ///
    /// A shard this process has handed to its write-behind queue and not yet written has the digest
    /// of the bytes it will hold (``WrittenShards``): this waits for the queue to have written it.
    public static func ofFile(_ path: String) throws -> Digest {
        if let pending = WrittenShards.shared.pendingWrite(of: path) { return Digest(value: try pending.wait().digest) }
        if let known = DigestCache.shared.digest(of: path) { return Digest(value: known) }
        return try reading(path)
    }

    init(value: UInt64) { self.value = value }

    /// Streams the file in 64 KiB chunks, so digesting a large shard keeps memory flat.
    static func reading(_ path: String) throws -> Digest {
        let fd = try FileSystem.openForReading(path)
        defer { close(fd) }
        // The identity before the first read: a write during the read changes it, so the digest
        // recorded below is never taken for a later version.
        var before = stat()
        let identified = fstat(fd, &before) == 0
        var d = Digest()
        // Not zero-filled: only the bytes read() wrote are hashed (zeroing 64 KiB cost more than
        // hashing a small file, and digests run for every input of every stage part).
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let n = read(fd, chunk.baseAddress, chunk.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw ValenceError.io(path: path, detail: "read failed: \(FileSystem.errnoText())")
            }
            if n == 0 { break }
            d.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
        }
        if identified { DigestCache.shared.record(path, identity: .init(before), digest: d.value) }
        return d
    }
}
