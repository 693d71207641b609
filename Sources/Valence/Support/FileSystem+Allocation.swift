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
        #if os(Linux)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // FS_IOC_GETFLAGS / FS_IOC_SETFLAGS (linux/fs.h: _IOR/_IOW('f', 1/2, long)); the kernel
        // reads and writes an int.
        let getFlags: UInt = 0x8008_6601, setFlags: UInt = 0x4008_6602
        let topDirectory: Int32 = 0x0002_0000  // FS_TOPDIR_FL
        var flags: Int32 = 0
        guard withUnsafeMutablePointer(to: &flags, { ioctl(fd, getFlags, $0) }) == 0 else { return false }
        if flags & topDirectory != 0 { return true }
        flags |= topDirectory
        return withUnsafeMutablePointer(to: &flags, { ioctl(fd, setFlags, $0) }) == 0
        #else
        return false
        #endif
    }

    /// Whether `path` has the attribute ``spreadSubdirectories(_:)`` sets (nil: the file system
    /// has no such attribute).
    public static func spreadsSubdirectories(_ path: String) -> Bool? {
        #if os(Linux)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var flags: Int32 = 0
        guard withUnsafeMutablePointer(to: &flags, { ioctl(fd, UInt(0x8008_6601), $0) }) == 0 else { return nil }
        return flags & 0x0002_0000 != 0
        #else
        return nil
        #endif
    }
}
