/// `RUN/.synced`: what a power cut can have taken from a run driven in-process
/// (``Durability/stepBarrier``), in two lines:
///
///     synced 12
///     written 60 boot 6f1c2b0e-5d1a-4c55-9d8e-1b0a7c3e9f20
///
/// - `synced N`: the last step a `syncfs` made durable.
/// - `written N boot ID`: the last step a driver finished writing (every file handed to the kernel)
///   during the boot `ID` (``BootIdentity``).
///
/// A power cut or a kernel crash starts a new boot, so while the boot id is unchanged every step
/// through `written` is exactly as written, on the disk or still in the page cache: only the steps
/// after `synced` that were not written during this boot can hold lost writes, and the next call
/// verifies those (``unverified(through:boot:)``). A line the record does not know, a torn or a
/// missing record reads as nothing recorded, which only costs a verification. The record of earlier
/// versions (`N` alone on its line) reads as `synced N`.
public struct DurabilityRecord: Equatable, Sendable {
    /// The last step whose writes a `syncfs` made durable.
    public var synced: Int?
    /// The last step a driver finished writing, and the boot it wrote it in.
    public var written: Written?

    public struct Written: Equatable, Sendable {
        public var step: Int
        public var boot: String

        public init(step: Int, boot: String) {
            self.step = step
            self.boot = boot
        }
    }

    public init(synced: Int? = nil, written: Written? = nil) {
        self.synced = synced
        self.written = written
    }

    /// The completed steps through `last` that may hold writes lost since they were made, in a
    /// process running during `boot`: those after `synced`, except the ones written during `boot`
    /// (all of them when `boot` is nil: nothing tells this boot from another). nil when none.
    ///
    /// - Complexity: O(1).
    public func unverified(through last: Int, boot: String?) -> ClosedRange<Int>? {
        var intact = synced ?? -1
        if let written, let boot, written.boot == boot { intact = max(intact, written.step) }
        let first = max(0, intact + 1)
        return first <= last ? first...last : nil
    }

    // MARK: Text

    /// The record's text, as ``init(text:)`` reads it back.
    public var text: String {
        var lines: [String] = []
        if let synced { lines.append("synced \(synced)") }
        if let written { lines.append("written \(written.step) boot \(written.boot)") }
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
            case (4, "written"):
                guard let step = Self.step(words[1]), words[2] == "boot", Self.isValidBoot(String(words[3])) else { return }
                record.written = Written(step: step, boot: String(words[3]))
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
        guard let text = try? FileSystem.readText(path(layout)) else { return DurabilityRecord() }
        return DurabilityRecord(text: text)
    }

    /// Replaces the run's record (atomically; not fsynced: a record lost with the page cache reads
    /// as an older one or none, which only costs a verification).
    public func write(_ layout: RunLayout) throws {
        try FileSystem.writeAtomically(Self.path(layout), text: text)
    }

    static func path(_ layout: RunLayout) -> String { layout.path(".synced") }
}
