#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FileSystem {
    /// Tells the file system that the subdirectories of `path` are unrelated to each other, so it
    /// may place each where there is room (ext2/3/4's "top of a directory hierarchy" attribute,
    /// `chattr +T`, `FS_TOPDIR_FL`). Valence sets it on `RUN/steps`: every step directory is a
    /// unit of its own.
    ///
    /// Why (docs/performance.md): ext4 without a journal skips every recently deleted inode when it
    /// allocates one, scanning its group from the start each time, so creating a step's 27 files and
    /// directories in a group where many were deleted in the last minutes cost up to 100 us each;
    /// a 60-step run took 0.93 s instead of 0.31 s on the development VM. With the attribute each
    /// step directory is placed by the allocator's spreading rule (Orlov) instead of next to its
    /// parent, away from such groups.
    ///
    /// Best effort: returns whether the attribute is set. Other file systems (tmpfs, xfs, btrfs,
    /// APFS) do not have it and lose nothing; nothing Valence reads depends on it.
    @discardableResult
    public static func spreadSubdirectories(_ path: String) -> Bool {
        withAttributes(of: path) { flags, set in
            flags & topDirectory != 0 || set(flags | topDirectory)
        } ?? false
    }

    /// Whether `path` has the attribute ``spreadSubdirectories(_:)`` sets (nil: the file system
    /// has no such attribute).
    public static func spreadsSubdirectories(_ path: String) -> Bool? {
        withAttributes(of: path) { flags, _ in flags & topDirectory != 0 }
    }

    /// `FS_TOPDIR_FL` (linux/fs.h).
    private static let topDirectory: Int32 = 0x0002_0000

    /// Calls `body` with the inode flags of the directory `path` (`FS_IOC_GETFLAGS`) and a function
    /// that sets them (`FS_IOC_SETFLAGS`, true on success); nil when they cannot be read (not a
    /// directory, a link, a file system without them, not Linux).
    private static func withAttributes<R>(of path: String, _ body: (Int32, (Int32) -> Bool) -> R) -> R? {
        #if os(Linux)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // _IOR/_IOW('f', 1/2, long); the kernel reads and writes an int.
        let getFlags: UInt = 0x8008_6601, setFlags: UInt = 0x4008_6602
        var flags: Int32 = 0
        guard withUnsafeMutablePointer(to: &flags, { ioctl(fd, getFlags, $0) }) == 0 else { return nil }
        return body(flags) { new in
            var value = new
            return withUnsafeMutablePointer(to: &value, { ioctl(fd, setFlags, $0) }) == 0
        }
        #else
        return nil
        #endif
    }
}
