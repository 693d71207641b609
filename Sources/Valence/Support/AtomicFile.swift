#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A new version of a file, written under a temporary name beside it and renamed over it by
/// ``commit()``: readers see the old file or the complete new one, never a part of it.
///
/// The directory is opened once (creating it if needed), checked where the open descriptor really
/// is (``Confinement``), and everything after happens by name inside that descriptor:
/// - the temporary file `.NAME.tmp` is created with `O_CREAT | O_EXCL | O_NOFOLLOW`, so whatever
///   already has that name (a leftover of a killed stage, a symbolic link someone planted) is
///   never opened, followed or truncated: the name itself is unlinked and the file created afresh;
/// - ``commit()`` fsyncs the file (unless ``Durability/current`` is a per-step barrier), checks that the temporary name still refers to it, renames it
///   over the final name (which replaces a symbolic link there rather than writing through it),
///   and fsyncs the directory, so after a power loss the new name is durably there or the old
///   state is: a manifest never survives without the outputs renamed before it.
/// Uncommitted (an error, or a crash), the temporary file is removed by deinit or by the next
/// writer of the same name; the name is fixed, not per process, so crashes leave no litter. An
/// I/O error while creating, writing or committing it (a full or read-only disk) names the output
/// it was to become, not the temporary name.
///
/// Complexity: a constant number of system calls per file (about ten), besides the writes.
public final class AtomicFile {
    /// The final name.
    public let path: String
    public let temporaryPath: String
    private let directory: Int32
    private let name: String
    private let temporaryName: String
    private let file: OutputFile
    private var committed = false

    public init(replacing path: String) throws {
        let directoryPath = FileSystem.directoryName(path)
        try FileSystem.makeDirectories(directoryPath)
        let directory = try FileSystem.openDirectory(directoryPath)
        let name = FileSystem.baseName(path)
        let temporaryName = ".\(name).tmp"
        let temporaryPath = FileSystem.temporaryName(for: path)
        let fd: Int32
        do {
            fd = try AtomicFile.createFresh(temporaryName, in: directory, path: path)
        } catch {
            close(directory)
            throw error
        }
        self.path = path
        self.temporaryPath = temporaryPath
        self.directory = directory
        self.name = name
        self.temporaryName = temporaryName
        file = OutputFile(descriptor: fd, path: temporaryPath)
    }

    /// Creates `name` in `directory` (the temporary name of `path`), removing (never following)
    /// whatever has that name first.
    static func createFresh(_ name: String, in directory: Int32, path: String) throws -> Int32 {
        let temporaryPath = FileSystem.temporaryName(for: path)
        for _ in 0..<3 {
            let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
            if fd >= 0 { return fd }
            guard errno == EEXIST else {
                throw ValenceError.io(path: path, detail: "cannot create: \(FileSystem.errnoText())")
            }
            if unlinkat(directory, name, 0) != 0 && errno != ENOENT {
                throw ValenceError.io(path: temporaryPath, detail: "is in the way and cannot be removed: \(FileSystem.errnoText())")
            }
        }
        throw ValenceError.io(path: temporaryPath, detail: "keeps reappearing after removal: another process is writing the same file")
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        do { try file.write(buffer) } catch let error as ValenceError { throw error.naming(path) }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Makes the file durable and renames it into place. `digest`, the ``Digest`` of every byte
    /// written, is recorded in ``DigestCache/shared`` for the renamed file, so the stages that read
    /// it next in this process need not read it again to digest it.
    ///
    /// Returns the renamed file's identity when it was recorded there (nil without a digest).
    @discardableResult
    public func commit(digest: UInt64? = nil) throws -> DigestCache.Identity? {
        // Under Durability.stepBarrier the driver syncs the whole step at once instead.
        let sync = Durability.syncsEachFile
        if sync { do { try file.sync() } catch let error as ValenceError { throw error.naming(path) } }
        // Where part locks do not hold (a file system without flock), another writer of the same
        // part may have removed our temporary name and created its own: never rename that one.
        guard let written = temporaryNameStatus() else {
            throw ValenceError.io(path: temporaryPath, detail: "was replaced by another process while this one wrote it")
        }
        let identified = digest != nil
        do { try file.close() } catch let error as ValenceError { throw error.naming(path) }
        if renameat(directory, temporaryName, directory, name) != 0 {
            throw ValenceError.io(path: path, detail: "cannot rename \(temporaryPath) into place: \(FileSystem.errnoText())")
        }
        committed = true
        // The identity after the rename (which sets the change time), recorded only when the name
        // still holds the inode just written.
        var renamed = stat()
        var identity: DigestCache.Identity?
        if identified, let digest, fstatat(directory, name, &renamed, AT_SYMLINK_NOFOLLOW) == 0,
           renamed.st_dev == written.st_dev, renamed.st_ino == written.st_ino, renamed.st_size == written.st_size {
            identity = DigestCache.Identity(renamed)
            DigestCache.shared.record(path, identity: DigestCache.Identity(renamed), digest: digest)
        }
        // Some file systems do not support fsync on directories (EINVAL); nothing more can be done there.
        if sync && fsync(directory) != 0 && errno != EINVAL {
            throw ValenceError.io(path: FileSystem.directoryName(path), detail: "fsync of the directory failed: \(FileSystem.errnoText())")
        }
        return identity
    }

    /// Whether the temporary name still refers to the file this object has open.
    private func ownsTemporaryName() -> Bool { temporaryNameStatus() != nil }

    /// The open file's status when the temporary name still refers to it; nil otherwise.
    private func temporaryNameStatus() -> stat? {
        var mine = stat(), named = stat()
        guard fstat(file.fd, &mine) == 0,
              fstatat(directory, temporaryName, &named, AT_SYMLINK_NOFOLLOW) == 0,
              mine.st_dev == named.st_dev, mine.st_ino == named.st_ino else { return nil }
        return mine
    }

    deinit {
        // Closed but not committed: commit checked the name was ours just before closing.
        if !committed && (file.fd < 0 || ownsTemporaryName()) { unlinkat(directory, temporaryName, 0) }
        close(directory)
    }
}
