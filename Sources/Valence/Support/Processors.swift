#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many CPUs this process may run on.
///
/// A stage that would use a helper thread asks first: under a scheduler that pins a job to one
/// CPU (Slurm with `--cpus-per-task=1`, `taskset`), a second thread only competes with the first.
public enum Processors {
    /// The CPUs in this process's affinity mask (Linux: `Cpus_allowed` in /proc/self/status),
    /// else the online CPUs; at least 1.
    public static let usable: Int = affinityCount() ?? max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// The mask is hex digits in comma-separated groups, e.g. `Cpus_allowed:\tff,ffffffff`.
    static func affinityCount() -> Int? {
        guard let status = try? FileSystem.readText("/proc/self/status") else { return nil }
        return affinityCount(status: status)
    }

    /// The number of CPUs in the `Cpus_allowed` line of a /proc/PID/status text; nil without one.
    static func affinityCount(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
            var count = 0
            for c in line.dropFirst("Cpus_allowed:".count).utf8 {
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): count += (c - 48).nonzeroBitCount
                case UInt8(ascii: "a")...UInt8(ascii: "f"): count += (c - 87).nonzeroBitCount
                default: continue
                }
            }
            return count > 0 ? count : nil
        }
        return nil
    }
}
