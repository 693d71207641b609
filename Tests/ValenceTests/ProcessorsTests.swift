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

    /// Pinned to one CPU, a process sees one (what a Slurm job bound to one CPU sees).
    @Test func tasksetPinningIsSeen() throws {
        // The first CPU this process may use (not necessarily CPU 0 under a restricted runner).
        let own = try TestSupport.run("/bin/cat", ["/proc/self/status"]).stdout
        let list = try #require(own.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        let first = String(list.dropFirst("Cpus_allowed_list:".count).drop { $0 == " " || $0 == "\t" }
            .prefix { $0.isNumber })
        try #require(!first.isEmpty)
        let status = try TestSupport.run("/usr/bin/taskset", ["-c", first, "/bin/cat", "/proc/self/status"])
        #expect(Processors.affinityCount(status: status.stdout) == 1)
    }
}
