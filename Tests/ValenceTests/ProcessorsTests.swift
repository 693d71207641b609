import Testing
@testable import Valence

/// The CPU count that decides whether update reads ahead on a second thread.
@Suite struct ProcessorsTests {
    @Test func affinityMaskIsCounted() {
        #expect(Processors.affinityCount(status: "Name:\tx\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n") == 2)
        #expect(Processors.affinityCount(status: "Cpus_allowed:\t1\n") == 1)
        #expect(Processors.affinityCount(status: "Cpus_allowed:\tff,ffffffff\n") == 40)
        #expect(Processors.affinityCount(status: "Cpus_allowed:\t00000000,00000010\n") == 1)
        #expect(Processors.affinityCount(status: "Name:\tx\n") == nil)
        #expect(Processors.usable >= 1)
    }

    /// Pinned to one CPU, a process sees one (what a 1-CPU Slurm job sees).
    @Test func tasksetPinningIsSeen() throws {
        let status = try TestSupport.run("/usr/bin/taskset", ["-c", "0", "/bin/cat", "/proc/self/status"])
        #expect(Processors.affinityCount(status: status.stdout) == 1)
    }
}
