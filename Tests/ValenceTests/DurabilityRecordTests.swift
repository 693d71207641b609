import Testing
@testable import Valence

/// `RUN/.synced` (``DurabilityRecord``): its text, what it refuses, and which steps a call must
/// verify, against a brute-force reading of the rule.
@Suite struct DurabilityRecordTests {
    static let boot = "6f1c2b0e-5d1a-4c55-9d8e-1b0a7c3e9f20"

    @Test func itsTextReadsBackAsTheSameRecord() {
        let records = [
            DurabilityRecord(),
            DurabilityRecord(synced: 0),
            DurabilityRecord(boot: Self.boot),
            DurabilityRecord(synced: 12, boot: Self.boot),
        ]
        for record in records { #expect(DurabilityRecord(text: record.text) == record, "\(record.text)") }
        #expect(DurabilityRecord(synced: 12, boot: "b").text == "synced 12\nboot b\n")
    }

    @Test func anEarlierVersionsRecordReadsAsSynced() {
        #expect(DurabilityRecord(text: "42\n") == DurabilityRecord(synced: 42))
    }

    /// Anything but a whole record reads as nothing recorded (which only costs a verification).
    @Test(arguments: ["", "synced 3", "synced 3\nboot b", "synced -1\n", "synced +3\n", "synced 03\n",
                      "synced x\n", "synced 3 4\n", "boot\n", "boot a b\n", "written 4 boot b\n",
                      "\n", "synced 3\n\n", "fsynced 3\n", "boot \(String(repeating: "a", count: 65))\n",
                      "boot caf\u{e9}\n", "synced 3\r\n"])
    func aTornOrUnknownRecordReadsAsNone(_ text: String) {
        #expect(DurabilityRecord(text: text) == DurabilityRecord(), "\(text.debugDescription)")
    }

    /// The steps through `last` a call verifies are exactly those after the synced one, unless the
    /// record names the call's boot (every combination of small values, read step by step).
    @Test func theStepsToVerifyAreThoseAfterTheSyncedOneUnlessWrittenInThisBoot() {
        for synced in [nil, 0, 1, 3, 5] as [Int?] {
            for recordBoot in [nil, "a", "b"] as [String?] {
                let record = DurabilityRecord(synced: synced, boot: recordBoot)
                for boot in [nil, "a", "b"] as [String?] {
                    for last in 0...6 {
                        let trusted = boot != nil && recordBoot == boot
                        let expected = (0...last).filter { step in !trusted && step > (synced ?? -1) }
                        let got = record.unverified(through: last, boot: boot).map(Array.init) ?? []
                        #expect(got == expected, "\(record.text.debugDescription) boot \(boot ?? "none") last \(last)")
                    }
                }
            }
        }
    }

    @Test func theBootIdIsReadFromItsFileOrNotAtAll() throws {
        let dir = TestSupport.temporaryDirectory("valence-boot")
        defer { FileSystem.removeTree(dir) }
        try FileSystem.makeDirectories(dir)
        let path = "\(dir)/boot_id"
        try FileSystem.writeAtomically(path, text: "\(Self.boot)\n")
        #expect(BootIdentity.read(path) == Self.boot)
        try FileSystem.writeAtomically(path, text: "two words\n")
        #expect(BootIdentity.read(path) == nil)
        #expect(BootIdentity.read("\(dir)/missing") == nil)
        #if os(Linux)
        #expect(BootIdentity.current != nil)
        #endif
    }
}
