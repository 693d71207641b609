#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, throwing wrappers over POSIX file calls.
///
/// The library avoids Foundation so that stages start in milliseconds; these are the only file
/// operations the pipeline needs. Every write that produces an output goes through an
/// ``AtomicFile`` (``writeAtomically(_:bytes:)``, ``ShardWriter``): a fresh temporary name, fsync,
/// then rename. Every file opened for reading, directory created and file created under a run
/// directory is first checked by ``Confinement``. New files and directories get the modes the
/// user's umask leaves of 0666 and 0777.
public enum FileSystem {
    /// The text of the current `errno`, for one-line error messages. A full or read-only file
    /// system is named by its errno and says what to do, since the fix lies outside Valence:
    /// "No space left on device (ENOSPC: free space, then rerun the same command)".
    static func errnoText() -> String { errnoText(errno) }

    static func errnoText(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        switch code {
        case ENOSPC: return "\(text) (ENOSPC: free space, then rerun the same command)"
        case EDQUOT: return "\(text) (EDQUOT: free space within the quota, then rerun the same command)"
        case EROFS: return "\(text) (EROFS: remount the file system read-write, then rerun the same command)"
        default: return text
        }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func fileSize(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// `mkdir -p`; under a run directory, never through a symbolic link leading out of it.
    public static func makeDirectories(_ path: String) throws {
        if path.isEmpty || isDirectory(path) { return }
        let parent = directoryName(path)
        if parent != path { try makeDirectories(parent) }
        try Confinement.check(path)
        if mkdir(path, 0o777) != 0 && errno != EEXIST {
            throw ValenceError.io(path: path, detail: "cannot create directory: \(errnoText())")
        }
    }

    // Both search the UTF-8 view: `String.lastIndex(of:)` walks grapheme clusters, ~10,000
    // instructions for a run path, and these run a few times per file written.
    public static func directoryName(_ path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func baseName(_ path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    /// The temporary name an output is written under before it is renamed into place.
    ///
    /// Dot-prefixed so that no listing or glob of outputs ever sees it; fixed (not per-process) so
    /// that a rerun after a crash overwrites the leftover instead of accumulating litter.
    public static func temporaryName(for path: String) -> String {
        let dir = directoryName(path)
        return "\(dir)/.\(baseName(path)).tmp"
    }

    /// Opens `path` for reading after ``Confinement/check(_:)``: under a run directory, a file
    /// reached through a symbolic link leading out of it is refused before it is opened.
    /// `missing` completes the error for a file that does not exist ("no such file").
    public static func openForReading(_ path: String, missing: String = "no such file") throws -> Int32 {
        try Confinement.check(path)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw ValenceError.missingInput(path: path, detail: missing) }
            throw ValenceError.io(path: path, detail: "cannot open: \(errnoText())")
        }
        return fd
    }

    /// Opens a directory (to create, rename and sync files in it by name) inside its run: below the
    /// run's pinned directory by one `openat2` where the kernel has it
    /// (``Confinement/openDirectoryBeneath(_:kernel:)``), else by `open` and a check of where the
    /// open descriptor really is (``Confinement/check(directory:path:)``).
    public static func openDirectory(_ path: String) throws -> Int32 {
        switch Confinement.openDirectoryBeneath(path) {
        case .opened(let fd): return fd
        case .missing: throw ValenceError.missingInput(path: path, detail: "no such directory")
        case .unanswered: break
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw ValenceError.missingInput(path: path, detail: "no such directory") }
            throw ValenceError.io(path: path, detail: "cannot open directory: \(errnoText())")
        }
        do {
            try Confinement.check(directory: fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// The whole file. Read straight into the result, sized by `fstat` one byte larger than the
    /// file so that the read that sees its end needs no more room (a file that grew, and one whose
    /// size `stat` does not give, such as a pipe or /proc's, start at 4 KiB and double). The result
    /// is not zero-filled first: `read` writes every byte it holds (zeroing a 64 KiB chunk per file
    /// cost more than reading the small files a step reads). O(size) time and memory.
    public static func readFile(_ path: String) throws -> [UInt8] {
        let fd = try openForReading(path)
        defer { close(fd) }
        var st = stat()
        let regular = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        var capacity = regular ? Int(st.st_size) + 1 : 1 << 12
        var result: [UInt8] = []
        while true {
            var atEnd = false
            let previous = result
            result = try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                guard let base = buffer.baseAddress else {
                    atEnd = true  // not reached: capacity is at least 1
                    return
                }
                previous.withUnsafeBufferPointer { if let p = $0.baseAddress { base.update(from: p, count: $0.count) } }
                count = previous.count
                while count < capacity {
                    let n = read(fd, base + count, capacity - count)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ValenceError.io(path: path, detail: "read failed: \(errnoText())")
                    }
                    if n == 0 {
                        atEnd = true
                        return
                    }
                    count += n
                }
            }
            if atEnd { return result }
            capacity = max(capacity * 2, 1 << 12)
        }
    }

    public static func readText(_ path: String) throws -> String {
        String(decoding: try readFile(path), as: UTF8.self)
    }

    /// Writes `bytes` to `path` so that readers see either the old file or the complete new one
    /// (through an ``AtomicFile``).
    public static func writeAtomically(_ path: String, bytes: some Collection<UInt8>) throws {
        let file = try AtomicFile(replacing: path)
        let bytes = Array(bytes)
        try file.write(bytes)
        try file.commit(digest: Digest.of(bytes).value)
    }

    public static func writeAtomically(_ path: String, text: String) throws {
        try writeAtomically(path, bytes: Array(text.utf8))
    }

    /// Opens `path` for appending (created if missing, with the umask's mode), in its directory
    /// opened and checked first, with `O_NOFOLLOW`: a symbolic link at `path` is refused (exit 65),
    /// never followed. Appends are not atomic; prefer ``AtomicFile`` for outputs.
    public static func openForAppending(_ path: String) throws -> OutputFile {
        let directoryPath = directoryName(path)
        try makeDirectories(directoryPath)
        let directory = try openDirectory(directoryPath)
        defer { close(directory) }
        let fd = openat(directory, baseName(path), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw ValenceError.badData(path: path, line: nil, detail: "is a symbolic link; Valence never follows a link where it writes (remove it)")
            }
            throw ValenceError.io(path: path, detail: "cannot open for appending: \(errnoText())")
        }
        return OutputFile(descriptor: fd, path: path)
    }

    /// Removes the name `path` (a link itself, never what it points to). Under a run directory,
    /// nothing is removed when the directory holding `path` leads out of it.
    public static func remove(_ path: String) {
        guard (try? Confinement.check(directoryName(path))) != nil else { return }
        unlink(path)
    }

    /// `rm -rf`: a symbolic link is removed, never descended into.
    public static func removeTree(_ path: String) {
        var st = stat()
        if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? list(path, includeHidden: true)) ?? [] { removeTree("\(path)/\(name)") }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Entry names of a directory, sorted, without `.` and `..`.
    public static func list(_ path: String, includeHidden: Bool = false) throws -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { throw ValenceError.missingInput(path: path, detail: "no such directory") }
            throw ValenceError.io(path: path, detail: "cannot list: \(errnoText())")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            if !includeHidden && name.hasPrefix(".") { continue }
            names.append(name)
        }
        return names.sorted()
    }
}

extension ValenceError {
    /// The same error about `path` instead (an I/O error on a temporary file is reported under the
    /// output it was to become); other errors unchanged.
    func naming(_ path: String) -> ValenceError {
        if case let .io(_, detail) = self { return .io(path: path, detail: detail) }
        return self
    }
}

/// A file opened for writing, with whole-buffer writes that retry on EINTR.
///
/// Stage outputs are written through an ``AtomicFile``, which holds one of these on its temporary
/// file; ``init(path:)`` (create or truncate in place) is for scratch files outside any run.
public final class OutputFile {
    public let path: String
    private(set) var fd: Int32

    /// Creates or truncates `path`, refusing a symbolic link there (`O_NOFOLLOW`).
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o666)
        if fd < 0 {
            throw ValenceError.io(path: path, detail: "cannot create: \(FileSystem.errnoText())")
        }
    }

    /// Takes over an open descriptor (closed by ``close()`` or deinit).
    init(descriptor: Int32, path: String) {
        self.path = path
        fd = descriptor
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ValenceError.io(path: path, detail: "write failed: \(FileSystem.errnoText())")
            }
            offset += n
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func sync() throws {
        if fsync(fd) != 0 {
            throw ValenceError.io(path: path, detail: "fsync failed: \(FileSystem.errnoText())")
        }
    }

    public func close() throws {
        if fd >= 0 {
            let result = Glibc.close(fd)
            fd = -1
            if result != 0 {
                throw ValenceError.io(path: path, detail: "close failed: \(FileSystem.errnoText())")
            }
        }
    }

    deinit {
        if fd >= 0 { _ = Glibc.close(fd) }
    }
}
