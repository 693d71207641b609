#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSyscalls
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
/// Complexity: a lookup scans the registered roots (one per run a process touches). A check costs,
/// per file opened or directory created (never per record), one `stat` of the root and one
/// `readlinkat` per component below it, up to the first that does not exist. Only a path with a
/// symbolic link, `.`, `..` or an empty component below its root, or whose root no longer leads to
/// the directory the registry holds open for it, costs a full `realpath` as before (a `readlink`
/// per component of the absolute path). The registry holds at most ``Registry/maxPinned`` run
/// directories open.
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
        guard let root = registry.resolvedEntry(for: path) else { return }
        if let escape = escape(of: path, under: root) {
            throw ValenceError.badData(path: path, line: nil, detail: escape.description)
        }
    }

    /// The same check for a directory opened as `descriptor` from `path`: judged by where the open
    /// descriptor really is, not by the path, so nothing renamed in between can fool it.
    public static func check(directory descriptor: Int32, path: String) throws {
        guard let resolvedRoot = registry.resolvedEntry(for: path)?.resolved else { return }
        guard let real = realPath(descriptor: descriptor) ?? realPath(path) else {
            throw ValenceError.badData(path: path, line: nil, detail: Escape.unresolvable(detail: FileSystem.errnoText()).description)
        }
        if !isInside(real, resolvedRoot) {
            throw ValenceError.badData(path: path, line: nil, detail: Escape.outside(real: real, root: resolvedRoot).description)
        }
    }

    /// What ``openDirectoryBeneath(_:kernel:)`` did.
    enum BeneathOpen: Equatable {
        /// The directory, open (O_RDONLY | O_DIRECTORY | O_CLOEXEC), inside its run.
        case opened(Int32)
        /// A component does not exist (reached through no symbolic link).
        case missing
        /// Not answered here: the caller opens the path and checks it with ``check(directory:path:)``.
        case unanswered
    }

    /// Opens `path`, a directory under a registered run directory, with one `openat2` below the
    /// root's pinned directory (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), once `stat` shows the
    /// root still leads there: the descriptor is then inside the run by construction, the verdict
    /// ``check(directory:path:)`` reaches by reading the real path of an open descriptor back
    /// (`/proc/self/fd`), at one system call less and no path text. `.unanswered` for a path under
    /// no root or at the root itself, a root not pinned or moved, a symbolic link or `..` on the
    /// way, any other error, or a kernel without `openat2`: the caller then opens and checks as
    /// before, so every refusal and its message stay that check's.
    ///
    /// Complexity: 2 system calls (`stat` of the root, `openat2`).
    static func openDirectoryBeneath(_ path: String, kernel: KernelWalk = kernelWalk) -> BeneathOpen {
        guard kernel.isAvailable, let root = registry.resolvedEntry(for: path), root.root != "/",
              let pin = root.pin, path.utf8.count > root.root.utf8.count + 1 else { return .unanswered }
        var st = stat()
        guard stat(root.root, &st) == 0, Identity(st) == pin.identity else { return .unanswered }
        let relative = String(path.utf8.dropFirst(root.root.utf8.count + 1)) ?? ""
        guard !relative.isEmpty else { return .unanswered }
        return withExtendedLifetime(pin) { kernel.openDirectory(pin.descriptor, relative) }
    }

    /// Where `relative`, taken as relative to the registered run directory `root`, escapes it;
    /// nil when it stays inside (or when `root` does not exist, so nothing under it can be read).
    public static func escape(of relative: RelativePath, under root: String) -> Escape? {
        let full = "\(root)/\(relative.text)"
        guard let resolved = registry.resolvedEntry(for: full) else { return nil }
        return escape(of: full, under: resolved)
    }

    // MARK: Resolving

    /// A registered root as its checks see it: its real path, resolved the first time it existed
    /// (and fixed for the process, as before), and, while it is pinned, that directory held open.
    struct ResolvedRoot {
        let root: String
        let resolved: String
        let pin: Pin?
    }

    /// A file's device and inode: which file it is, whatever path reaches it.
    struct Identity: Equatable, Sendable {
        let device: UInt64
        let inode: UInt64

        init(_ st: stat) {
            device = UInt64(truncatingIfNeeded: st.st_dev)
            inode = UInt64(truncatingIfNeeded: st.st_ino)
        }
    }

    /// A run directory held open by the registry. While a descriptor refers to it, its inode
    /// cannot be freed and given to another directory, so a path whose `stat` shows this identity
    /// leads to this very directory (an identity alone, remembered without the descriptor, could
    /// belong to a directory made later in its place). Closed once the registry lets go of it and
    /// no check in flight still holds it.
    final class Pin: Sendable {
        let descriptor: Int32
        let identity: Identity

        /// Opens `resolved`, the real path `root` was just found to have, and checks that `root`
        /// leads to the directory opened; nil if either fails (the checks then resolve every path).
        init?(root: String, resolved: String) {
            let fd = open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            var opened = stat(), reached = stat()
            guard fstat(fd, &opened) == 0, stat(root, &reached) == 0, Identity(opened) == Identity(reached) else {
                close(fd)
                return nil
            }
            descriptor = fd
            identity = Identity(opened)
        }

        deinit { close(descriptor) }
    }

    /// Where `path` (lexically under `root.root`) escapes the run, or nil: always the verdict of
    /// ``escapeByRealPath(of:resolvedRoot:)``, which resolves the whole path, but reached without
    /// resolving anything when ``walkBelowRoot(_:of:)`` shows that no symbolic link is involved.
    static func escape(of path: String, under root: ResolvedRoot) -> Escape? {
        switch walkBelowRoot(path, of: root) {
        case .noLink:
            return nil
        case .rootNotPinned:
            // Recreated, re-pointed or let go of: pinned again if its real path is still the one
            // resolved (what the verdict compares with), and walked once more.
            if let again = registry.repin(root.root), walkBelowRoot(path, of: again) == .noLink { return nil }
            return escapeByRealPath(of: path, resolvedRoot: root.resolved)
        case .needsResolution:
            return escapeByRealPath(of: path, resolvedRoot: root.resolved)
        }
    }

    /// What ``walkBelowRoot(_:of:)`` found.
    enum Walk: Equatable {
        /// The root leads to its pinned directory, and every component below it, up to the first
        /// that does not exist, is a plain name (no `.`, `..` or empty one) of something that is
        /// not a symbolic link: the path's longest existing prefix is then the root's real path
        /// followed by those names, inside the run.
        case noLink
        /// The root is not pinned, or no longer leads to its pinned directory.
        case rootNotPinned
        /// A symbolic link, a `.`, `..` or empty component, or an error other than "does not
        /// exist": only a full resolution can judge the path.
        case needsResolution
    }

    /// Checks `path` below its root without resolving the root again: `stat` of the root (it must
    /// still lead to the pinned directory, by device and inode), then the components below it, in
    /// that directory, up to the first that does not exist (`ENOENT`, `ENOTDIR`: where `open` or
    /// `mkdir` of `path` stops too). On Linux 5.6 and later one `openat2` with
    /// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` walks them all in the kernel (`ELOOP`: a link on
    /// the way); elsewhere `readlinkat` of each prefix, from the top down (`EINVAL`: there, and not
    /// a link). `readlink`, not `lstat`: it answers the one question without filling a `stat`.
    ///
    /// Nothing about the components below the root is remembered between calls: each check sees
    /// them as they are (docs/security.md, "The check below the root, and what it remembers").
    ///
    /// Complexity: 3 system calls with `openat2` (`stat`, `openat2`, `close`), else 1 + k for k
    /// components below the root; one copy of the path.
    /// `kernel` answers in one call where it can (tests pass one that cannot, to check the other way).
    static func walkBelowRoot(_ path: String, of root: ResolvedRoot, kernel: KernelWalk = kernelWalk) -> Walk {
        // Under a root of "/" every path would start with an empty component: not worth a fast path.
        guard root.root != "/" else { return .needsResolution }
        guard let pin = root.pin else { return .rootNotPinned }
        var st = stat()
        guard stat(root.root, &st) == 0, Identity(st) == pin.identity else { return .rootNotPinned }
        var bytes = path.utf8CString  // NUL-terminated
        let start = root.root.utf8.count
        guard bytes.count > start else { return .needsResolution }
        if bytes[start] == 0 { return .noLink }  // the root itself
        let slash = CChar(UInt8(ascii: "/")), dot = CChar(UInt8(ascii: "."))
        guard bytes[start] == slash else { return .needsResolution }
        // The pin, not just its descriptor number, is held until the last readlinkat: the registry
        // may let go of it meanwhile, and its descriptor is closed when the last holder does.
        return withExtendedLifetime(pin) {
            bytes.withUnsafeMutableBufferPointer { buffer -> Walk in
                guard let base = buffer.baseAddress else { return .needsResolution }
                let relative = base + start + 1
                // Every component must be a plain name (no `.`, `..` or empty one); where each ends.
                var ends: [Int] = []
                var begin = start + 1
                while true {
                    var end = begin
                    while buffer[end] != 0 && buffer[end] != slash { end += 1 }
                    let length = end - begin
                    if length == 0 || (buffer[begin] == dot && (length == 1 || (length == 2 && buffer[begin + 1] == dot))) {
                        return .needsResolution
                    }
                    ends.append(end)
                    if buffer[end] == 0 { break }
                    begin = end + 1
                }
                if kernel.isAvailable, let walk = kernel.walk(pin.descriptor, relative) { return walk }
                var target: CChar = 0
                for end in ends {
                    let terminator = buffer[end]
                    buffer[end] = 0
                    let status = readlinkat(pin.descriptor, relative, &target, 1)
                    let code = errno
                    buffer[end] = terminator
                    if status >= 0 { return .needsResolution }  // a symbolic link
                    if code != EINVAL { return code == ENOENT || code == ENOTDIR ? .noLink : .needsResolution }
                }
                return .noLink
            }
        }
    }

    static let kernelWalk = KernelWalk()

    /// ``walkBelowRoot(_:of:)`` by `openat2(2)`: while the kernel has it (Linux 5.6 and later, and
    /// no seccomp filter refusing it), one call instead of one `readlinkat` per component.
    final class KernelWalk: @unchecked Sendable {
        private var available: Bool
        private let lock = DispatchSemaphore(value: 1)

        init(available: Bool = true) { self.available = available }

        var isAvailable: Bool {
            lock.wait()
            defer { lock.signal() }
            return available
        }

        /// The walk's verdict for `relative` (plain names only) below `directory`; nil when the
        /// kernel cannot answer (then the caller walks with `readlinkat`, from now on always).
        func walk(_ directory: Int32, _ relative: UnsafePointer<CChar>) -> Walk? {
            let fd = valence_open_path_beneath(directory, relative)
            if fd >= 0 {
                close(fd)
                return .noLink
            }
            switch errno {
            case ENOENT, ENOTDIR:
                return .noLink  // the first missing component was reached through no link
            case ENOSYS, EPERM:
                lock.wait()
                available = false
                lock.signal()
                return nil
            default:
                return .needsResolution  // ELOOP (a link on the way), EXDEV, EACCES, ...
            }
        }

        /// `relative` below `directory` opened as a directory through no link and without leaving
        /// it (see ``Confinement/openDirectoryBeneath(_:kernel:)``).
        func openDirectory(_ directory: Int32, _ relative: String) -> BeneathOpen {
            let fd = valence_open_directory_beneath(directory, relative)
            if fd >= 0 { return .opened(fd) }
            switch errno {
            case ENOENT:
                return .missing
            case ENOSYS, EPERM:
                lock.wait()
                available = false
                lock.signal()
                return .unanswered
            default:
                return .unanswered  // ELOOP, EXDEV, ENOTDIR, EACCES, ...: the usual open says which
            }
        }
    }

    /// The verdict by `realpath(3)` of the longest existing prefix of `path` (every component of the
    /// absolute path read with `readlink`).
    static func escapeByRealPath(of path: String, resolvedRoot: String) -> Escape? {
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

    /// The registered roots, their real paths once they exist, and the directories pinned for
    /// ``walkBelowRoot(_:of:)`` (at most ``maxPinned``, the least recently checked let go of first:
    /// a process touching more runs costs one descriptor per run only for the runs in use).
    final class Registry: @unchecked Sendable {
        struct Entry {
            let root: String
            var resolved: String?
            var pin: Pin?
            var lastUse: UInt64 = 0
        }

        static let maxPinned = 32

        private var entries: [Entry] = []
        private var uses: UInt64 = 0
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

        /// The registered root of `path`, its real path and its pin, resolved (inspected, pinned)
        /// the first time it exists; nil when `path` is under no root or its root does not exist yet.
        func resolvedEntry(for path: String) -> ResolvedRoot? {
            lock.wait()
            guard let i = index(for: path) else { lock.signal(); return nil }
            uses += 1
            entries[i].lastUse = uses
            let root = entries[i].root
            if let resolved = entries[i].resolved {
                lock.signal()
                return ResolvedRoot(root: root, resolved: resolved, pin: entries[i].pin)
            }
            guard let real = Confinement.realPath(root) else { lock.signal(); return nil }
            entries[i].resolved = real
            pin(i, real)
            let result = ResolvedRoot(root: root, resolved: real, pin: entries[i].pin)
            let shared = FileOwnership.writableByOthers(real)  // getpwuid and getgrgid: under the lock
            lock.signal()
            if let who = shared {
                Console.error("\(FileOwnership.programName): warning: \(root) \(who): they can change this run's inputs and outputs (chmod go-w \(root))")
            }
            return result
        }

        /// `root` pinned again (it was let go of, or its directory replaced), if its real path is
        /// still the one resolved first; nil otherwise.
        func repin(_ root: String) -> ResolvedRoot? {
            lock.wait()
            defer { lock.signal() }
            guard let i = entries.firstIndex(where: { $0.root == root }), let resolved = entries[i].resolved,
                  Confinement.realPath(root) == resolved else { return nil }
            pin(i, resolved)
            guard let pin = entries[i].pin else { return nil }
            return ResolvedRoot(root: root, resolved: resolved, pin: pin)
        }

        /// Pins entry `i` (real path `resolved`), letting go of the least recently checked pin when
        /// ``maxPinned`` are held; call with the lock held.
        private func pin(_ i: Int, _ resolved: String) {
            entries[i].pin = nil
            let pinned = entries.indices.filter { entries[$0].pin != nil }
            if pinned.count >= Self.maxPinned, let oldest = pinned.min(by: { entries[$0].lastUse < entries[$1].lastUse }) {
                entries[oldest].pin = nil
            }
            entries[i].pin = Pin(root: entries[i].root, resolved: resolved)
        }

        /// How many directories are pinned (for tests).
        var pinnedCount: Int {
            lock.wait()
            defer { lock.signal() }
            return entries.filter { $0.pin != nil }.count
        }
    }
}
