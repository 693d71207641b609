#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// When Valence's writes reach the disk, and what stands in for fsync when they are not forced there
/// one by one.
///
/// Every output is written under a temporary name and renamed into place, so a killed process
/// (SIGKILL, OOM) never leaves a partial file under a final name: the kernel's page cache survives the
/// process. Only a power loss or kernel crash can lose writes the kernel had not yet put on disk, and
/// the two policies guard against that differently:
/// - ``eachFile`` (the stage executables, one process per part): fsync every output and its directory
///   before the manifest that lists it, so a durable manifest always has durable outputs.
/// - ``stepBarrier`` (`valence-step`, `make run`, the sweep: whole steps in one process): no fsync per
///   file. Before a call writes anything, the driver records this boot (``BootIdentity``) in
///   `RUN/.synced` (``DurabilityRecord``) and syncs what earlier calls wrote on another thread; while
///   steps run, a `syncfs` (``barrier(_:)``) at most once a second; at its end, none. Steps after the last synced one that
///   the record says were written in this boot are synced without being read; in another boot (a
///   power cut or a kernel crash starts a new one), or after a failed `syncfs`, they are verified
///   (every part compares its outputs with the digests its manifest records and reruns when they
///   differ, exactly as after a hand-edited file). Steps are deterministic, so what it rewrites is
///   what was lost. About 30 fsyncs per step became one `syncfs` per call (docs/performance.md).
public enum Durability: Sendable, Equatable {
    case eachFile
    case stepBarrier

    /// The policy of this process. Set once, by a driver, before any work starts; the stage
    /// executables keep ``eachFile``.
    nonisolated(unsafe) public static var current: Durability = .eachFile

    /// Whether an output must be fsynced (with its directory) before it is renamed into place.
    @inline(__always) public static var syncsEachFile: Bool { current == .eachFile }

    /// Makes every write to the file system holding `path` durable (`syncfs`; `sync` where there is
    /// no `syncfs`).
    public static func barrier(_ path: String) throws {
        #if os(Linux)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ValenceError.io(path: path, detail: "cannot open to sync: \(FileSystem.errnoText())") }
        defer { close(fd) }
        guard linuxSyncfs(fd) == 0 else { throw ValenceError.io(path: path, detail: "syncfs failed: \(FileSystem.errnoText())") }
        #else
        sync()
        #endif
    }
}

/// Whether a `syncfs` has failed, for every driver that shares this (all of a process's, by
/// default). The kernel reports a write-back error once, to whichever `syncfs` comes first, and the
/// lost pages may be any run's on that file system: after one failure no driver of the process
/// records its steps as synced or as written in this boot any more.
public final class SyncFailures: @unchecked Sendable {
    /// The process's.
    public static let process = SyncFailures()
    private var failed = false
    private let lock = DispatchSemaphore(value: 1)

    public init() {}

    public var hasFailed: Bool {
        lock.wait()
        defer { lock.signal() }
        return failed
    }

    public func note() {
        lock.wait()
        failed = true
        lock.signal()
    }
}

#if os(Linux)
/// glibc's `syncfs(2)` (declared only under `_GNU_SOURCE`, so Swift's Glibc module does not show it).
@_silgen_name("syncfs") private func linuxSyncfs(_ fd: Int32) -> Int32
#endif
