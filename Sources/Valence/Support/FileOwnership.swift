#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who besides its owner can write a file or directory, from its mode bits.
///
/// A group write bit counts unless the group is the owner's private group (the user-private-group
/// scheme of Debian and Ubuntu, where umask 002 makes every new directory group-writable): a group
/// named like the owner, listing no other member. `pipelines/slurm/submit.sh` applies the same
/// rule. ACL entries beyond the mode bits are not read (the mode's group bits show the ACL mask).
public enum FileOwnership {
    /// "is writable by ..." when users other than the owner can write `path` (symbolic links
    /// followed), nil when only its owner can (or when it cannot be inspected).
    public static func writableByOthers(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let mode = st.st_mode & 0o7777
        let octal = "mode " + String(repeating: "0", count: max(0, 4 - String(mode, radix: 8).count)) + String(mode, radix: 8)
        if mode & S_IWOTH != 0 { return "is writable by every user (\(octal))" }
        if mode & S_IWGRP != 0 && !isPrivateGroup(st.st_gid, of: st.st_uid) {
            return "is writable by group \(groupName(st.st_gid)) (\(octal))"
        }
        return nil
    }

    /// Whether `gid` is `uid`'s private group: same name as the user, no other member listed.
    static func isPrivateGroup(_ gid: gid_t, of uid: uid_t) -> Bool {
        guard let user = getpwuid(uid).map({ String(cString: $0.pointee.pw_name) }),
              let group = getgrgid(gid) else { return false }
        guard String(cString: group.pointee.gr_name) == user else { return false }
        guard let members = group.pointee.gr_mem else { return true }
        var i = 0
        while let member = members[i] {
            if String(cString: member) != user { return false }
            i += 1
        }
        return true
    }

    static func groupName(_ gid: gid_t) -> String {
        getgrgid(gid).map { String(cString: $0.pointee.gr_name) } ?? String(gid)
    }

    /// The running program's name, for warnings printed from the library.
    static var programName: String {
        CommandLine.arguments.first.map { FileSystem.baseName($0) } ?? "valence"
    }
}
