#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, throwing wrappers over POSIX file calls.
///
/// The library avoids Foundation so that stages start in milliseconds; these are the only file
/// operations the pipeline needs. Every write that produces an output goes through
/// ``writeAtomically(_:bytes:)`` or a ``ShardWriter``: a temporary name, fsync, then rename.
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

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String) throws {
        if path.isEmpty || isDirectory(path) { return }
        let parent = directoryName(path)
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw ValenceError.io(path: path, detail: "cannot create directory: \(errnoText())")
        }
    }

    public static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// The temporary name an output is written under before it is renamed into place.
    ///
    /// Dot-prefixed so that no listing or glob of outputs ever sees it; fixed (not per-process) so
    /// that a rerun after a crash overwrites the leftover instead of accumulating litter.
    public static func temporaryName(for path: String) -> String {
        let dir = directoryName(path)
        return "\(dir)/.\(baseName(path)).tmp"
    }

    public static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { throw ValenceError.missingInput(path: path, detail: "no such file") }
            throw ValenceError.io(path: path, detail: "cannot open: \(errnoText())")
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ValenceError.io(path: path, detail: "read failed: \(errnoText())")
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    public static func readText(_ path: String) throws -> String {
        String(decoding: try readFile(path), as: UTF8.self)
    }

    /// Writes `bytes` to `path` so that readers see either the old file or the complete new one.
    public static func writeAtomically(_ path: String, bytes: some Collection<UInt8>) throws {
        try makeDirectories(directoryName(path))
        let tmp = temporaryName(for: path)
        do {
            let file = try OutputFile(path: tmp)
            try file.write(Array(bytes))
            try file.sync()
            try file.close()
            try rename(tmp, to: path)
        } catch let error as ValenceError {
            // A full or read-only disk (or any failed write, fsync, close or rename) leaves no
            // temporary file behind, and the message names the output, not its temporary name.
            remove(tmp)
            throw error.naming(path)
        }
    }

    public static func writeAtomically(_ path: String, text: String) throws {
        try writeAtomically(path, bytes: Array(text.utf8))
    }

    /// Renames `from` over `to` and fsyncs the directory, so that after a power loss the new name
    /// is either durably there or the old state is: a manifest can never survive without the
    /// outputs it lists.
    public static func rename(_ from: String, to: String) throws {
        if Glibc.rename(from, to) != 0 {
            throw ValenceError.io(path: to, detail: "cannot rename \(from) into place: \(errnoText())")
        }
        try syncDirectory(directoryName(to))
    }

    /// fsync on a directory: makes the renames and creations inside it durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw ValenceError.io(path: path, detail: "cannot open directory to sync it: \(errnoText())")
        }
        defer { close(fd) }
        // Some filesystems do not support fsync on directories (EINVAL); nothing more can be done there.
        if fsync(fd) != 0 && errno != EINVAL {
            throw ValenceError.io(path: path, detail: "fsync of the directory failed: \(errnoText())")
        }
    }

    public static func remove(_ path: String) {
        unlink(path)
    }

    /// `rm -rf`.
    public static func removeTree(_ path: String) {
        if isDirectory(path) {
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

/// A file opened for writing (created or truncated), with whole-buffer writes that retry on EINTR.
public final class OutputFile {
    public let path: String
    private var fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw ValenceError.io(path: path, detail: "cannot create: \(FileSystem.errnoText())")
        }
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
