#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// The content digests of files this process has written or read, each kept with the file's
/// identity (device, inode, size, modification and change times) at that moment, so that
/// ``Digest/ofFile(_:)`` can answer with one `stat` instead of reading the file again.
///
/// In one process a step writes about twenty files and the next parts digest them again as their
/// inputs (the input digest, the up-to-date check, ``ParsedFiles``): reading and hashing them was
/// 10% of an in-process step (docs/performance.md). A file that changed since is seen by its
/// identity: a rewrite through a temporary file has a new inode, any write in place a new change
/// time (which no user can set), so it is read and hashed again. What a cached digest cannot see is
/// a write in place that keeps the size and lands within the same tick of the kernel's file clock
/// (a few milliseconds) as the digest was taken; digests detect accidents, not tampering
/// (docs/security.md), and the part locks keep Valence's own writers apart.
///
/// - Complexity: a lookup is one `stat` and a hash-table probe; the cache keeps the ``capacity``
///   most recently recorded files (a long run or a sweep does not grow it).
public final class DigestCache: @unchecked Sendable {
    /// The process's cache, which ``Digest/ofFile(_:)`` and ``AtomicFile/commit(digest:)`` use.
    public static let shared = DigestCache()

    /// What identifies one version of a file.
    public struct Identity: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: (Int, Int)
        var changed: (Int, Int)

        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            #if canImport(Darwin)
            modified = (Int(st.st_mtimespec.tv_sec), Int(st.st_mtimespec.tv_nsec))
            changed = (Int(st.st_ctimespec.tv_sec), Int(st.st_ctimespec.tv_nsec))
            #else
            modified = (Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec))
            changed = (Int(st.st_ctim.tv_sec), Int(st.st_ctim.tv_nsec))
            #endif
        }

        public static func == (a: Identity, b: Identity) -> Bool {
            a.device == b.device && a.inode == b.inode && a.size == b.size
                && a.modified == b.modified && a.changed == b.changed
        }
    }

    let capacity: Int
    private var entries: [String: (identity: Identity, digest: UInt64)] = [:]
    /// Paths in the order they were recorded, for dropping the oldest.
    private var order: [String] = []
    private let lock = DispatchSemaphore(value: 1)

    public init(capacity: Int = 4096) { self.capacity = max(1, capacity) }

    /// The digest recorded for `path` if the file there is still the one it was recorded for.
    public func digest(of path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let identity = Identity(st)
        return locked {
            guard let entry = entries[path], entry.identity == identity else { return nil }
            return entry.digest
        }
    }

    /// Records that the file at `path`, while it has `identity`, has content digest `digest`: the
    /// caller has hashed or written every byte of that version.
    func record(_ path: String, identity: Identity, digest: UInt64) {
        locked {
            if entries.updateValue((identity, digest), forKey: path) == nil { order.append(path) }
            if order.count > capacity {
                // Drop the older half at once: O(1) amortised per record.
                let dropped = order.count - capacity / 2
                for p in order[..<dropped] { entries[p] = nil }
                order.removeFirst(dropped)
            }
        }
    }

    var count: Int { locked { entries.count } }

    private func locked<R>(_ body: () -> R) -> R {
        lock.wait()
        defer { lock.signal() }
        return body()
    }
}
