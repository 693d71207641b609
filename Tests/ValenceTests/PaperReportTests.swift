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

    /// A report from made-up numbers: 3 seeds, base 0.5 at every k with seed noise, and each row a
    /// fixed shift from base (plus a little per-seed jitter), so every verdict is known in advance.
    static func report(shifts: [String: (Int) -> Double]) -> PaperReport {
        let seeds = [1, 2, 3]
        let kCount = PassAtK.ks.count
        func values(_ shift: (Int) -> Double, jitter: Double) -> [Int: [[Double]]] {
            Dictionary(uniqueKeysWithValues: seeds.map { s in
                let v = (0..<kCount).map { k in 0.5 + 0.01 * Double(s) + shift(k) + jitter * Double(s - 2) }
                return (s, [v, v])
            })
        }
        let rows = shifts.keys.sorted().map { name in
            PaperReport.Row(label: name, setting: .paper, window: 0, values: values(shifts[name] ?? { _ in 0 }, jitter: 0.0001))
        }
        return PaperReport(rows: rows, base: [0: values({ _ in 0 }, jitter: 0)], reference: nil, steps: 1)
    }

    @Test func claimsAreJudgedFromPairedSeedDifferences() {
        let last = PassAtK.ks.count - 1
        let r = Self.report(shifts: [
            "psr": { $0 == 0 ? 0.1 : $0 == last ? -0.05 : 0 },
            "nsr": { _ in 0.02 },
            "w-reinforce": { _ in 0.03 },
            "grpo": { _ in 0.05 },      // beats nsr and w-reinforce beyond noise
            "ppo": { _ in 0.02 },       // matches nsr
        ])
        let claims = Dictionary(uniqueKeysWithValues: r.claims(window: 0, setting: .paper, t: 0).map { ($0.text, $0.verdict) })
        #expect(claims["PSR lifts Pass@1 above the base policy"] == .holds)
        #expect(claims["PSR falls below the base policy at large k (k = 256)"] == .holds)
        #expect(claims["NSR improves on the base policy across the whole Pass@k spectrum"] == .holds)
        #expect(claims["NSR matches or beats PPO at every k"] == .holds)
        #expect(claims["NSR matches or beats GRPO at every k"] == .doesNotHold)
        #expect(claims["W-REINFORCE is best or near best (within noise of the best) at every k"] == .doesNotHold)
        // Without a shift beyond the seeds' noise nothing is resolved.
        let flat = Self.report(shifts: ["psr": { _ in 0 }, "nsr": { _ in 0 }])
        for c in flat.claims(window: 0, setting: .paper, t: 0) where c.text.hasPrefix("PSR lifts") || c.text.hasPrefix("NSR improves") {
            #expect(c.verdict == .notResolved, "\(c.text)")
        }
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
