import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The uncompressed text of the shards an in-process run hands to its ``WriteBehind`` queue, so the
/// part that reads one next (verify reads generate's rollouts, split verify's, eval split's ...)
/// walks its lines from memory, whether or not the file is on disk yet.
///
/// A text is first *pending*: its file is still to be written by the queue, and this process is
/// the only writer of that name (the part lock is held until the part's manifest is written). Its
/// content digest (of the compressed bytes, as manifests record it) is known, so ``Digest/ofFile(_:)``
/// answers from here too. Once written, the text is used only while the file at its path is still
/// that version (device, inode, size, modification and change times, as ``DigestCache`` judges it):
/// a file replaced or edited since is read from disk, exactly as a separate stage process reads it.
/// The text is what decompressing the file gives, byte for byte, so readers see the same lines and
/// the same errors, and return the same digest.
///
/// - Complexity: a pending lookup is a hash-table probe; a written one adds a `stat`. Written texts
///   (with the records kept beside them, ``HandedRollouts``) beyond ``capacityBytes`` in all are
///   dropped, the oldest first; pending ones are kept until written (a run hands over about 0.7 MB
///   a step at B x G = 512).
public final class WrittenShards: @unchecked Sendable {
    /// The process's store, which ``ShardWriter`` fills and ``ShardReader`` reads.
    public static let shared = WrittenShards()

    /// A kept text: immutable, shared by the store and the readers walking it.
    final class Text: @unchecked Sendable {
        private let base: UnsafePointer<UInt8>?
        let count: Int
        /// What keeps `base` alive: the writer's buffer, taken over, or a compact copy.
        private let owner: AnyObject
        /// The records the text encodes, when its writer kept them (``HandedRollouts``).
        let rollouts: HandedRollouts?

        /// Takes over `storage`, a finished writer's buffer (no copy), and the records it encodes.
        init(taking storage: ByteStorage, rollouts: HandedRollouts? = nil) {
            base = UnsafePointer(storage.base)
            count = storage.count
            owner = storage
            self.rollouts = rollouts
        }

        /// A copy of `bytes`, no larger than they are.
        init(copying bytes: UnsafeBufferPointer<UInt8>, rollouts: HandedRollouts? = nil) {
            self.rollouts = rollouts
            count = bytes.count
            let box = Box(bytes)
            owner = box
            base = box.base
        }

        /// What keeping it costs against ``capacityBytes``: the text and its records.
        var keptBytes: Int { count + (rollouts?.bytes ?? 0) }

        func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
            try withExtendedLifetime(owner) { try body(UnsafeBufferPointer(start: base, count: count)) }
        }

        /// An array's bytes, pinned for as long as the box lives.
        private final class Box {
            let storage: UnsafeMutableBufferPointer<UInt8>
            var base: UnsafePointer<UInt8>? { UnsafePointer(storage.baseAddress) }
            init(_ bytes: UnsafeBufferPointer<UInt8>) {
                storage = .allocate(capacity: max(1, bytes.count))
                _ = storage.initialize(fromContentsOf: bytes)
            }
            deinit { storage.deallocate() }
        }
    }

    struct Entry {
        var text: Text
        /// The queue's job writing the file; its summary has the digest.
        var write: BackgroundJob<ShardSummary>?
        /// nil while the file is still to be written.
        var identity: DigestCache.Identity?
    }

    let capacityBytes: Int
    private var entries: [String: Entry] = [:]
    /// Paths written, in the order they were, for dropping the oldest.
    private var written: [String] = []
    private var writtenBytes = 0
    private let lock = DispatchSemaphore(value: 1)

    public init(capacityBytes: Int = 4 << 20) { self.capacityBytes = capacityBytes }

    /// Records `text`, the whole uncompressed text of the shard whose file at `path` `submit` hands
    /// to a write-behind queue (called with the store locked, so the job cannot report the file
    /// written before it is recorded as pending).
    func pending(_ path: String, text: Text, submit: () -> BackgroundJob<ShardSummary>) {
        locked {
            if let old = entries[path], old.identity != nil { removeWritten(path, bytes: old.text.keptBytes) }
            entries[path] = Entry(text: text, write: submit(), identity: nil)
        }
    }

    /// The file at `path` has been written from `text` and renamed into place as `identity` (nil:
    /// it could not be identified, so it is read from disk from now on).
    func written(_ path: String, text: Text, identity: DigestCache.Identity?) {
        locked {
            guard var entry = entries[path], entry.identity == nil, entry.text === text else { return }
            guard let identity else { entries[path] = nil; return }
            entry.identity = identity
            // A compact copy instead of the writer's buffer (a frame's capacity, 1 MiB).
            entry.text = entry.text.withBytes { Text(copying: $0, rollouts: entry.text.rollouts) }
            entries[path] = entry
            written.append(path)
            writtenBytes += entry.text.keptBytes
            var dropped = 0
            while writtenBytes > capacityBytes, dropped < written.count {
                if let gone = entries.removeValue(forKey: written[dropped]) { writtenBytes -= gone.text.keptBytes }
                dropped += 1
            }
            written.removeFirst(dropped)
        }
    }

    /// Forgets `path` if it still holds `text` (its write failed or was skipped: nothing of it is
    /// on disk).
    func forget(_ path: String, text: Text) {
        locked {
            guard let entry = entries[path], entry.text === text else { return }
            entries[path] = nil
            if entry.identity != nil { removeWritten(path, bytes: entry.text.keptBytes) }
        }
    }

    /// The text for `path`: pending, or written and still the file's current version.
    func text(of path: String) -> Text? {
        guard let entry = locked({ entries[path] }) else { return nil }
        guard let identity = entry.identity else { return entry.text }
        var st = stat()
        guard stat(path, &st) == 0, DigestCache.Identity(st) == identity else { return nil }
        return entry.text
    }

    /// The queue's job writing `path`, while its file is still to be written: its summary has the
    /// content digest the file will have.
    func pendingWrite(of path: String) -> BackgroundJob<ShardSummary>? {
        locked {
            guard let entry = entries[path], entry.identity == nil else { return nil }
            return entry.write
        }
    }

    /// How many texts are kept, how many of them pending, and the written ones' total size (tests).
    var usage: (count: Int, pending: Int, writtenBytes: Int) {
        locked { (entries.count, entries.values.filter { $0.identity == nil }.count, writtenBytes) }
    }

    /// Takes `path`, whose written text has `bytes` bytes, off the written list; lock held.
    private func removeWritten(_ path: String, bytes: Int) {
        guard let i = written.firstIndex(of: path) else { return }
        written.remove(at: i)
        writtenBytes -= bytes
    }

    private func locked<R>(_ body: () -> R) -> R {
        lock.wait()
        defer { lock.signal() }
        return body()
    }
}
