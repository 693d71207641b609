/// CRC-32C (Castagnoli), the checksum of TFRecord framing, and TensorFlow's "masked" form of it.
///
/// Reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF (the iSCSI / RFC 3720
/// CRC). Table driven, one byte per step: O(n) with one table lookup per byte, which is plenty for
/// event files of a few kilobytes.
public enum CRC32C {
    /// The 256-entry lookup table for the reflected polynomial.
    static let table: [UInt32] = (0..<256).map { index in
        var c = UInt32(index)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The CRC-32C of `bytes`.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TensorFlow's masked CRC (`crc32c::Mask`): rotate right by 15 bits and add a constant, so that
    /// a CRC of data that itself holds CRCs does not degenerate.
    public static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// `masked(checksum(bytes))`.
    public static func maskedChecksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        masked(checksum(bytes))
    }
}
