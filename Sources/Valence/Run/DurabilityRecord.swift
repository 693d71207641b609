/// `RUN/.synced`: what a power cut can have taken from a run driven in-process
/// (``Durability/stepBarrier``), in two lines:
///
///     synced 12
///     boot 6f1c2b0e-5d1a-4c55-9d8e-1b0a7c3e9f20
///
/// - `synced N`: the last step a `syncfs` made durable (absent: none).
/// - `boot ID`: the boot (``BootIdentity``) in which every step after `synced` was written, by the
///   in-process driver or by the stage executables, which fsync every file (absent: unknown).
///
/// ``RunDriver`` keeps both true: before a call writes anything it verifies what came before unless
/// it was written in this boot, lowers `synced` below the steps it is about to write again, and
/// records this boot; it raises `synced` only once a `syncfs` covering the steps has succeeded;
/// after a failed `syncfs` it drops the boot and records nothing more (``SyncFailures``). A power cut or a
/// kernel crash starts a new boot, so in a new boot the steps after `synced` are verified (their
/// parts run again, each comparing its outputs with its manifest's digests). A line the record does
/// not know, a torn or a missing record reads as nothing recorded, which only costs a verification.
/// The record of earlier versions (`N` alone on its line) reads as `synced N`.
public struct DurabilityRecord: Equatable, Sendable {
    /// The last step whose writes a `syncfs` made durable.
    public var synced: Int?
    /// The boot every step after ``synced`` was written in.
    public var boot: String?

    public init(synced: Int? = nil, boot: String? = nil) {
        self.synced = synced
        self.boot = boot
    }

    /// The completed steps through `last` that may hold writes lost since they were made, seen from
    /// a process running during `boot`: every step after ``synced``, unless they were all written
    /// during `boot` (never when `boot` is nil: nothing tells this boot from another). nil when none.
    ///
    /// - Complexity: O(1).
    public func unverified(through last: Int, boot: String?) -> ClosedRange<Int>? {
        if let boot, self.boot == boot { return nil }
        let first = max(0, (synced ?? -1) + 1)
        return first <= last ? first...last : nil
    }

    // MARK: Text

    /// The record's text, as ``init(text:)`` reads it back.
    public var text: String {
        var lines: [String] = []
        if let synced { lines.append("synced \(synced)") }
        if let boot { lines.append("boot \(boot)") }
        return lines.map { $0 + "\n" }.joined()
    }

    /// The record `text` holds; an empty record for anything that is not a whole record (every line
    /// complete and known).
    public init(text: String) {
        self.init()
        guard text.hasSuffix("\n") else { return }
        var record = DurabilityRecord()
        for line in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            let words = line.split(separator: " ", omittingEmptySubsequences: false)
            switch (words.count, words.first) {
            case (1, _):
                guard let step = Self.step(words[0]) else { return }
                record.synced = step  // an earlier version's record
            case (2, "synced"):
                guard let step = Self.step(words[1]) else { return }
                record.synced = step
            case (2, "boot"):
                guard Self.isValidBoot(String(words[1])) else { return }
                record.boot = String(words[1])
            default:
                return
            }
        }
        self = record
    }

    /// A boot id the record can hold: 1 to 64 printable ASCII bytes, no blank.
    static func isValidBoot(_ id: String) -> Bool {
        let bytes = id.utf8
        return !bytes.isEmpty && bytes.count <= 64 && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7f }
    }

    private static func step(_ word: Substring) -> Int? {
        guard let n = Int(word), n >= 0, String(n) == word else { return nil }
        return n
    }

    // MARK: The file

    /// The run's record; empty when it is missing or unreadable.
    public static func read(_ layout: RunLayout) -> DurabilityRecord {
        readIfPresent(layout) ?? DurabilityRecord()
    }

    /// The run's record; nil when the run has none (it was never driven in-process), empty when it
    /// is unreadable.
    public static func readIfPresent(_ layout: RunLayout) -> DurabilityRecord? {
        do {
            return DurabilityRecord(text: try FileSystem.readText(path(layout)))
        } catch ValenceError.missingInput {
            return nil
        } catch {
            return DurabilityRecord()
        }
    }

    /// Replaces the run's record (atomically; not fsynced: a record lost with the page cache comes
    /// with a new boot, so the steps after its `synced` are verified; ``RunDriver`` syncs a record
    /// whose `synced` it lowered before writing those steps again).
    public func write(_ layout: RunLayout) throws {
        try FileSystem.writeAtomically(Self.path(layout), text: text)
    }

    /// Drops the boot from the run's record (best effort), so that the next call verifies the steps
    /// after the last synced one instead of trusting them.
    public static func distrust(_ layout: RunLayout) {
        var record = read(layout)
        guard record.boot != nil else { return }
        record.boot = nil
        try? record.write(layout)
    }

    static func path(_ layout: RunLayout) -> String { layout.path(".synced") }
}
