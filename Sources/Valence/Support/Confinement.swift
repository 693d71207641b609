#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Keeps file access inside the run directories a process works in, whatever symbolic links a
/// run directory holds (docs/security.md).
///
/// Every ``RunLayout`` registers its root here. From then on a path that lies lexically under a
/// registered root is accepted only if it also resolves, symbolic links followed, inside that
/// root's real path: ``check(_:)`` before a file is opened for reading or a directory is created,
/// ``check(directory:path:)`` on a directory already opened to create a file in (its real path
/// is read back from the open descriptor, so a link swapped in after a check cannot redirect the
/// write), and ``escape(of:under:)`` for the paths a manifest lists. Paths under no registered
/// root (a report's output directory, a test's scratch file) are not confined. It is unveil(2)
/// for registered directories only, checked by Valence itself.
///
/// The first time a root is resolved it is also inspected: when users other than its owner can
/// write it, one warning line goes to standard error (once per root per process, even under
/// `--quiet`: it is not progress).
///
/// Complexity: a lookup scans the registered roots (one per run a process touches); a check
/// costs one `realpath` (an `lstat` per component) per file opened, never per record.
public enum Confinement {
    /// Where a path leads when symbolic links are followed, if that is not inside its run.
    public enum Escape: Sendable, Equatable, CustomStringConvertible {
        /// It resolves to `real`, outside the run directory whose real path is `root`.
        case outside(real: String, root: String)
        /// A symbolic link on the way does not resolve (dangling, a loop, or unreadable).
        case unresolvable(detail: String)

        public var description: String {
            switch self {
            case let .outside(real, root):
                return "resolves to \(real), outside the run directory \(root) (Valence follows no symbolic link out of a run)"
            case let .unresolvable(detail):
                return "goes through a symbolic link that does not resolve (\(detail))"
            }
        }
    }

    /// Registers `root` (spelled as ``RunLayout`` spells it, without a trailing slash) as a run
    /// directory. Registering a root twice is harmless.
    public static func register(_ root: String) {
        guard !root.isEmpty else { return }
        registry.add(root)
    }

    /// The registered root `path` lies under (the longest, if roots nest), as it was registered.
    public static func root(of path: String) -> String? {
        registry.entry(for: path)?.root
    }

    /// Throws ``ValenceError/badData(path:line:detail:)`` naming `path` when `path` lies under a
    /// registered run directory but resolves outside it. A path that does not exist yet is judged
    /// by its longest existing prefix (what a `mkdir` or `open` would go through).
    public static func check(_ path: String) throws {
        guard let (_, resolvedRoot) = registry.resolvedEntry(for: path) else { return }
        if let escape = escape(of: path, resolvedRoot: resolvedRoot) {
            throw ValenceError.badData(path: path, line: nil, detail: escape.description)
        }
    }

    /// The same check for a directory opened as `descriptor` from `path`: judged by where the open
    /// descriptor really is, not by the path, so nothing renamed in between can fool it.
    public static func check(directory descriptor: Int32, path: String) throws {
        guard let (_, resolvedRoot) = registry.resolvedEntry(for: path) else { return }
        guard let real = realPath(descriptor: descriptor) ?? realPath(path) else {
            throw ValenceError.badData(path: path, line: nil, detail: Escape.unresolvable(detail: FileSystem.errnoText()).description)
        }
        if !isInside(real, resolvedRoot) {
            throw ValenceError.badData(path: path, line: nil, detail: Escape.outside(real: real, root: resolvedRoot).description)
        }
    }

    /// Where `relative`, taken as relative to the registered run directory `root`, escapes it;
    /// nil when it stays inside (or when `root` does not exist, so nothing under it can be read).
    public static func escape(of relative: RelativePath, under root: String) -> Escape? {
        let full = "\(root)/\(relative.text)"
        guard let (_, resolvedRoot) = registry.resolvedEntry(for: full) else { return nil }
        return escape(of: full, resolvedRoot: resolvedRoot)
    }

    // MARK: Resolving

    static func escape(of path: String, resolvedRoot: String) -> Escape? {
        // The longest prefix that exists (as a name: a dangling link counts) is what any open or
        // mkdir of `path` would go through.
        var probe = path
        var st = stat()
        while lstat(probe, &st) != 0 {
            guard errno == ENOENT || errno == ENOTDIR else { return nil }  // EACCES: the open fails itself
            let parent = FileSystem.directoryName(probe)
            guard parent != probe else { return nil }
            probe = parent
        }
        guard let real = realPath(probe) else {
            return .unresolvable(detail: "\(probe): \(FileSystem.errnoText())")
        }
        return isInside(real, resolvedRoot) ? nil : .outside(real: real, root: resolvedRoot)
    }

    static func isInside(_ real: String, _ root: String) -> Bool {
        root == "/" || real == root || real.hasPrefix(root + "/")
    }

    /// `realpath(3)`: the absolute path with every symbolic link, `.` and `..` resolved.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The real path of an open descriptor (Linux: `/proc/self/fd`); nil where that is unavailable.
    static func realPath(descriptor: Int32) -> String? {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let n = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count)
        guard n > 0, n < buffer.count, buffer[0] == CChar(UInt8(ascii: "/")) else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #else
        return nil
        #endif
    }

    // MARK: The registry

    static let registry = Registry()

    /// The registered roots and, once they exist, their real paths.
    final class Registry: @unchecked Sendable {
        struct Entry {
            let root: String
            var resolved: String?
        }

        private var entries: [Entry] = []
        private let lock = DispatchSemaphore(value: 1)

        func add(_ root: String) {
            lock.wait()
            defer { lock.signal() }
            if !entries.contains(where: { $0.root == root }) { entries.append(Entry(root: root)) }
        }

        /// The index of the longest registered root `path` lies under; call with the lock held.
        private func index(for path: String) -> Int? {
            var best: Int?
            for (i, e) in entries.enumerated() {
                let under = e.root == "/" ? path.hasPrefix("/") : (path == e.root || path.hasPrefix(e.root + "/"))
                if under && (best.map { entries[$0].root.count < e.root.count } ?? true) { best = i }
            }
            return best
        }

        func entry(for path: String) -> Entry? {
            lock.wait()
            defer { lock.signal() }
            return index(for: path).map { entries[$0] }
        }

        /// The registered root of `path` and its real path, resolved (and inspected) the first time
        /// it exists; nil when `path` is under no root or its root does not exist yet.
        func resolvedEntry(for path: String) -> (root: String, resolved: String)? {
            lock.wait()
            guard let i = index(for: path) else { lock.signal(); return nil }
            if let resolved = entries[i].resolved {
                lock.signal()
                return (entries[i].root, resolved)
            }
            guard let resolved = Confinement.realPath(entries[i].root) else { lock.signal(); return nil }
            entries[i].resolved = resolved
            let root = entries[i].root
            let shared = FileOwnership.writableByOthers(resolved)  // getpwuid and getgrgid: under the lock
            lock.signal()
            if let who = shared {
                Console.error("\(FileOwnership.programName): warning: \(root) \(who): they can change this run's inputs and outputs (chmod go-w \(root))")
            }
            return (root, resolved)
        }
    }
}
