#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (`flock`) on a lock file, held until ``release()`` or deinit.
///
/// Stages take one per output part so that two processes working on the same part (a stage run
/// by hand while cron's `make step` runs it, two shells, a resubmitted job) take turns instead of
/// writing the same temporary file at once: the second waits, then finds the part up to date.
/// The kernel drops the lock when its holder dies, so a killed stage never leaves it stuck.
public final class FileLock {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Locks `path` (created if missing, with its directory), calling `waiting` once if another
    /// process holds it, then blocking until it is free. Where the file system has no `flock`
    /// (Lustre mounted `noflock`, NFSv3 without lockd) it calls `unsupported` and returns a lock
    /// that holds nothing: the stage goes on as it did before part locks existed.
    public static func acquire(_ path: String, waiting: () -> Void,
                               unsupported: () -> Void = {}) throws -> FileLock {
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
        guard fd >= 0 else { return }
        close(fd)  // closing the only descriptor releases the flock
        fd = -1
    }

    deinit { release() }
}
