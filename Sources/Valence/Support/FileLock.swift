#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// An exclusive advisory lock (`flock`) on a lock file, held until ``release()`` or deinit.
///
/// Stages take one per output part so that two processes working on the same part (a stage run
/// by hand while cron's `make step` runs it, two shells, a resubmitted job) take turns instead of
/// writing the same temporary file at once: the second waits, then finds the part up to date.
/// The kernel drops the lock when its holder dies, so a killed stage never leaves it stuck.
public final class FileLock {
    private var fd: Int32
    /// The path of a lock shared in this process (``acquire(_:sharedInProcess:waiting:unsupported:)``).
    private var sharedPath: String?

    private init(fd: Int32) { self.fd = fd }

    /// Locks `path` (created if missing, with its directory), calling `waiting` once if another
    /// process holds it, then blocking until it is free. Where the file system has no `flock`
    /// (Lustre mounted `noflock`, NFSv3 without lockd) it calls `unsupported` and returns a lock
    /// that holds nothing: the stage goes on as it did before part locks existed.
    ///
    /// With `sharedInProcess`, holders in this process share one lock on `path`: the first takes
    /// it, later ones join at no cost, and the last to release lets it go. Part locks are shared so:
    /// a `flock` belongs to one open of the file, and the same part of two steps shares a lock file
    /// (``RunLayout/lock(forManifest:)``), so with write-behind (``WriteBehind``) step N+1's part
    /// would otherwise wait for the queue to finish step N's. Other processes are kept out as before.
    public static func acquire(_ path: String, sharedInProcess: Bool = false, waiting: () -> Void,
                               unsupported: () -> Void = {}) throws -> FileLock {
        if sharedInProcess {
            if let joined = Shared.table.join(path) { return joined }
            let lock = try acquire(path, waiting: waiting, unsupported: unsupported)
            return Shared.table.add(path, lock)
        }
        let fd = try openLockFile(path)
        let lock = FileLock(fd: fd)
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return lock }
        if [ENOLCK, ENOSYS, EOPNOTSUPP, EINVAL].contains(errno) {
            unsupported()
            lock.release()
            return lock
        }
        guard errno == EWOULDBLOCK else {
            throw ValenceError.io(path: path, detail: "cannot lock: \(FileSystem.errnoText())")
        }
        waiting()
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw ValenceError.io(path: path, detail: "cannot lock: \(FileSystem.errnoText())")
            }
        }
        return lock
    }

    /// Locks `path` if no other process holds it; nil when one does. Where the file system has no
    /// `flock`, returns a lock that holds nothing, as ``acquire(_:waiting:unsupported:)`` does.
    public static func acquireIfFree(_ path: String) throws -> FileLock? {
        let lock = FileLock(fd: try openLockFile(path))
        if flock(lock.fd, LOCK_EX | LOCK_NB) == 0 { return lock }
        let lockError = errno
        lock.release()
        if lockError == EWOULDBLOCK { return nil }
        if [ENOLCK, ENOSYS, EOPNOTSUPP, EINVAL].contains(lockError) { return lock }
        throw ValenceError.io(path: path, detail: "cannot lock: \(FileSystem.errnoText(lockError))")
    }

    /// Opens (creating, with its directory) the lock file `path` with `O_NOFOLLOW`, inside its
    /// directory opened and checked first (``FileSystem/openDirectory(_:)``): a symbolic link at its
    /// name is refused (exit 65), never followed, so a planted link cannot make a stage create or
    /// open a file elsewhere. It is not removed either: two processes removing "the same" link could
    /// each end up holding a lock on a different file.
    static func openLockFile(_ path: String) throws -> Int32 {
        let directoryPath = FileSystem.directoryName(path)
        try FileSystem.makeDirectories(directoryPath)
        let directory = try FileSystem.openDirectory(directoryPath)
        let fd = openat(directory, FileSystem.baseName(path), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o666)
        let openError = errno
        close(directory)
        guard fd >= 0 else {
            if openError == ELOOP {
                throw ValenceError.badData(path: path, line: nil, detail: "is a symbolic link; Valence never follows a link where it writes (remove it)")
            }
            throw ValenceError.io(path: path, detail: "cannot open lock file: \(FileSystem.errnoText(openError))")
        }
        return fd
    }

    /// Whether another process holds `path`'s lock now (for tests and status; racy by nature).
    public static func isHeld(_ path: String) -> Bool {
        let fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    public func release() {
        if let path = sharedPath {
            sharedPath = nil
            Shared.table.leave(path)
            return
        }
        guard fd >= 0 else { return }
        close(fd)  // closing the only descriptor releases the flock
        fd = -1
    }

    deinit { release() }

    /// The locks shared in this process: each held once, by the lock of its first holder, and
    /// counted by holders.
    final class Shared: @unchecked Sendable {
        static let table = Shared()
        private var locks: [String: (lock: FileLock, holders: Int)] = [:]
        private let mutex = DispatchSemaphore(value: 1)

        /// A handle on `path`'s shared lock when this process holds it; nil when it does not.
        func join(_ path: String) -> FileLock? {
            mutex.wait()
            defer { mutex.signal() }
            guard var entry = locks[path] else { return nil }
            entry.holders += 1
            locks[path] = entry
            return FileLock.handle(path)
        }

        /// Records `lock`, just taken on `path`, as shared (joining an entry another thread added
        /// meanwhile instead, and letting `lock` go).
        func add(_ path: String, _ lock: FileLock) -> FileLock {
            mutex.wait()
            defer { mutex.signal() }
            if var entry = locks[path] {
                entry.holders += 1
                locks[path] = entry
                lock.release()
            } else {
                locks[path] = (lock, 1)
            }
            return FileLock.handle(path)
        }

        func leave(_ path: String) {
            mutex.wait()
            defer { mutex.signal() }
            guard var entry = locks[path] else { return }
            entry.holders -= 1
            if entry.holders > 0 { locks[path] = entry; return }
            locks[path] = nil
            entry.lock.release()
        }
    }

    /// A holder's handle on the shared lock of `path`.
    private static func handle(_ path: String) -> FileLock {
        let lock = FileLock(fd: -1)
        lock.sharedPath = path
        return lock
    }
}
