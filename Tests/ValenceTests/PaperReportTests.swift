import Foundation
import Testing
@testable import Valence

/// `make paper` (docs/model.md 10) end to end on a tiny grid, and the report's classification of runs.
@Suite(.serialized) struct PaperReportTests {
    @Test func runsAreSortedIntoThePapersSettingAndThePlainStep() throws {
        var c = RunConfig()
        c.objective = .nsr
        #expect(PaperReport.classify(c) == ("nsr", .plain))
        c.minibatches = 4
        c.clip = 0.2
        c.entropyCoef = 0.001
        #expect(PaperReport.classify(c) == ("nsr", .paper))
        c.setParameter(PPOClip.highField, .double(0.28))
        #expect(PaperReport.classify(c) == ("nsr + clip-higher", .beyond))
        c.objective = try #require(Objective(rawValue: "passk"))
        c.setParameter(PPOClip.highField, .null)
        #expect(PaperReport.classify(c).setting == .beyond)
    }

    @Test func makePaperWritesTheReportOnATinyGrid() throws {
        let dir = TestSupport.temporaryDirectory("valence-paper")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try TestSupport.make(["paper", "PAPER_GRID=data/grids/paper-tiny.json", "OUT=\(dir)"])
        try #require(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let md = try String(contentsOfFile: "\(dir)/report.md", encoding: .utf8)
        for name in ["base", "psr", "nsr", "w-reinforce", "grpo", "ppo", "passk *(beyond the paper)*", "nsr-ul *(beyond the paper)*",
                     "grpo + clip-higher *(beyond the paper)*", "grpo + KL-Cov *(beyond the paper)*"] {
            #expect(md.contains("| \(name) | 2 |"), "report lacks row \(name)")
        }
        for t in ["1.00", "0.60"] {
            #expect(md.contains("the paper's training configuration (M = 4, clip 0.2, entropy 0.001, no KL, lambda 0.1), eval T = \(t)"))
            #expect(md.contains("the plain step (M = 1, no clip, no entropy bonus), eval T = \(t)"))
        }
        // The paper's end points beside ours, and a verdict for each claim.
        #expect(md.contains("| 63.2 | 96.9 |") && md.contains("| 74.1 | 91.2 |"))
        let verdicts = md.split(separator: "\n").filter { $0.hasPrefix("- ") && $0.contains("**") }
        #expect(verdicts.count == 2 * 2 * 6, "6 claims x 2 temperatures x 2 settings")
        #expect(verdicts.allSatisfy { $0.contains("**holds**") || $0.contains("**does not hold**") || $0.contains("**not resolved by the seeds**") })
        // T = 0.6 really is another evaluation: the base row differs between the temperatures.
        let bases = md.split(separator: "\n").filter { $0.hasPrefix("| base |") }
        #expect(Set(bases).count == 2)
    }
}
