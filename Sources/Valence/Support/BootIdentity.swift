/// Which boot of the machine this process runs in: Linux draws a random id at every boot
/// (`/proc/sys/kernel/random/boot_id`).
///
/// The page cache does not outlive a boot: a power cut or a kernel crash always ends in a new boot
/// (and a new id). So a file written during the boot still running is exactly as written, whether
/// or not the disk has it yet, unless writing it back failed (a disk error: the kernel reports it
/// once, to the first `syncfs` after it; when that is one of ``RunDriver``'s, the process's drivers
/// stop trusting the boot, see ``SyncFailures``).
/// ``DurabilityRecord`` builds on that.
public enum BootIdentity {
    /// This boot's id, read once per process; nil where the system has none (then in-process runs
    /// sync at the end of every call, as before).
    public static let current: String? = read("/proc/sys/kernel/random/boot_id")

    /// The id in the file at `path` (its one line: printable, no blank, at most 64 bytes); nil when
    /// the file is missing or holds anything else.
    static func read(_ path: String) -> String? {
        guard let text = try? FileSystem.readText(path) else { return nil }
        let id = text.hasSuffix("\n") ? String(text.dropLast()) : text
        guard DurabilityRecord.isValidBoot(id) else { return nil }
        return id
    }
}
