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
            DurabilityRecord(written: .init(step: 7, boot: Self.boot)),
            DurabilityRecord(synced: 12, written: .init(step: 60, boot: Self.boot)),
        ]
        for record in records { #expect(DurabilityRecord(text: record.text) == record, "\(record.text)") }
        #expect(DurabilityRecord(synced: 12, written: .init(step: 60, boot: "b")).text == "synced 12\nwritten 60 boot b\n")
    }

    @Test func anEarlierVersionsRecordReadsAsSynced() {
        #expect(DurabilityRecord(text: "42\n") == DurabilityRecord(synced: 42))
    }

    /// Anything but a whole record reads as nothing recorded (which only costs a verification).
    @Test(arguments: ["", "synced 3", "synced 3\nwritten 4 boot b", "synced -1\n", "synced +3\n", "synced 03\n",
                      "synced x\n", "synced 3 4\n", "written 4 boot\n", "written 4 boot a b\n", "written 4 node b\n",
                      "\n", "synced 3\n\n", "fsynced 3\n", "written 4 boot \(String(repeating: "a", count: 65))\n",
                      "written 4 boot caf\u{e9}\n", "synced 3\r\n"])
    func aTornOrUnknownRecordReadsAsNone(_ text: String) {
        #expect(DurabilityRecord(text: text) == DurabilityRecord(), "\(text.debugDescription)")
    }

    /// The steps through `last` a call verifies are exactly those neither synced nor written in its
    /// boot (every combination of small values, against the rule read step by step).
    @Test func theStepsToVerifyAreThoseNeitherSyncedNorWrittenInThisBoot() {
        let boots: [String?] = [nil, "a", "b"]
        for synced in [nil, 0, 1, 3, 5] as [Int?] {
            for writtenStep in [nil, 0, 2, 3, 6] as [Int?] {
                for recordBoot in ["a", "b"] {
                    let record = DurabilityRecord(synced: synced, written: writtenStep.map { .init(step: $0, boot: recordBoot) })
                    for boot in boots {
                        for last in 0...6 {
                            let expected = (0...last).filter { step in
                                if let synced, step <= synced { return false }
                                if let writtenStep, let boot, boot == recordBoot, step <= writtenStep { return false }
                                return true
                            }
                            let got = record.unverified(through: last, boot: boot).map(Array.init) ?? []
                            #expect(got == expected, "\(record.text.debugDescription) boot \(boot ?? "none") last \(last)")
                        }
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
