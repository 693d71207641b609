import CZstd

/// A one-frame shard compressed ahead of its write: the frame's bytes and their digest.
///
/// The write-behind path (``ShardWriter``, ``WriteBehind``) compresses a handed-over shard on a
/// thread of its own while the writer thread creates, writes and renames the files handed over
/// before it, so the two halves of a write (zstd, then the file system) run side by side. The
/// bytes are those ``ShardWriter`` makes for the same text in place: the same context parameters and
/// call (``ShardWriter/compressor(from:level:path:)``, ``ShardWriter/compress(_:with:into:capacity:path:)``).
final class CompressedFrame: @unchecked Sendable {
    /// The compressed bytes (owned, freed with the frame).
    let bytes: UnsafeRawBufferPointer
    /// ``Digest`` of ``bytes``: the shard file's digest, since the frame is the whole file.
    let digest: UInt64

    private init(bytes: UnsafeRawBufferPointer, digest: UInt64) {
        self.bytes = bytes
        self.digest = digest
    }

    deinit { bytes.deallocate() }

    /// Room zstd compresses into, reused from frame to frame by one thread (the frame then copies
    /// its bytes out: a fresh bound-sized buffer per frame cost a page fault per 4 KiB).
    final class Scratch: @unchecked Sendable {
        var base: UnsafeMutableRawPointer?
        var capacity = 0

        init() {}
        deinit { base?.deallocate() }

        func room(_ n: Int) -> UnsafeMutableRawPointer {
            if let base, capacity >= n { return base }
            base?.deallocate()
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1), alignment: 16)
            (base, capacity) = (fresh, n)
            return fresh
        }
    }

    /// `text`, whole records, compressed as one frame at `level` through `scratch`; `path` names
    /// the shard in an error.
    ///
    /// - Complexity: O(text.count).
    static func compress(_ text: UnsafeBufferPointer<UInt8>, level: Int32, path: String, scratch: Scratch) throws -> CompressedFrame {
        let contexts = ZstdContextPool.shared
        let context = try ShardWriter.compressor(from: contexts, level: level, path: path)
        defer { contexts.recycle(compressor: context) }
        let bound = ZSTD_compressBound(text.count)
        let room = scratch.room(bound)
        let n = try ShardWriter.compress(text, with: context, into: room, capacity: bound, path: path)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: 16)
        output.copyMemory(from: UnsafeRawBufferPointer(start: room, count: n))
        let bytes = UnsafeRawBufferPointer(output)
        var digest = Digest()
        digest.update(bytes)
        return CompressedFrame(bytes: bytes, digest: digest.value)
    }
}
