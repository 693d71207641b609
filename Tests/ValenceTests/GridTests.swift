import Foundation
import Testing
@testable import Valence

/// Grid files: expansion order, cases, overrides, run directories, and clear errors.
@Suite struct GridTests {
    func grid(_ text: String) throws -> Grid {
        let path = TestSupport.temporaryDirectory("valence-grid") + "/g.json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try Grid.load(path)
    }

    @Test func axesExpandToTheirProductInFileOrder() throws {
        let g = try grid("""
            {"name": "t", "out": "runs/t", "path": "{optimizer}-clip{clip}/{objective}",
             "set": {"steps": 5, "lr": 0.5, "filter-groups": true},
             "axes": {"optimizer": ["sgd", "adam"], "clip": ["off", 0.2], "objective": ["psr", "nsr"]}}
            """)
        let runs = g.runs
        #expect(runs.count == 8)
        #expect(runs.map(\.path).prefix(3) == ["sgd-clipoff/psr", "sgd-clipoff/nsr", "sgd-clip0.2/psr"])
        #expect(runs[0].options == ["--steps", "5", "--lr", "0.5", "--filter-groups", "--optimizer", "sgd", "--objective", "psr"])
        #expect(runs[2].options.suffix(4) == ["--clip", "0.2", "--objective", "psr"])
        #expect(g.report == "none" && g.samples == 0)
    }

    @Test func casesAreAUnionOfSubgrids() throws {
        let g = try grid("""
            {"name": "m", "out": "o", "path": "G{group}-{rollouts}/{objective}",
             "axes": {"objective": ["psr", "nsr"]},
             "cases": [{"rollouts": ["sampled"], "group": [2, 4]}, {"rollouts": ["expected"], "group": [8]}]}
            """)
        #expect(g.runs.map(\.path) == ["G2-sampled/psr", "G4-sampled/psr", "G2-sampled/nsr", "G4-sampled/nsr",
                                       "G8-expected/psr", "G8-expected/nsr"])
    }

    @Test func overridesReplaceAxesAndFixedValues() throws {
        var g = try grid("""
            {"name": "c", "out": "o", "path": "w{window}/seed{seed}/{objective}", "set": {"steps": 60},
             "axes": {"window": [0, 1], "seed": [1], "objective": ["psr"]}}
            """)
        g.setAxis("seed", ["1", "2", "3"])
        g.set("steps", "7")
        g.set("window", "1")
        #expect(g.runs.map(\.path) == ["w1/seed1/psr", "w1/seed2/psr", "w1/seed3/psr"])
        #expect(g.runs[0].options.prefix(2) == ["--steps", "7"])
        // An axis the file does not have is added, and then must appear in the path.
        g.setAxis("group", ["2", "4"])
        #expect(throws: ValenceError.self) { try g.checkPaths("g.json") }
    }

    @Test func badGridsAreRefusedNamingTheFile() throws {
        #expect(throws: ValenceError.self) { try grid(#"{"name": "x", "out": "o", "axes": {"seed": []}}"#) }
        #expect(throws: ValenceError.self) { try grid(#"{"name": "x", "out": "o", "path": "same", "axes": {"seed": [1, 2]}}"#) }
        #expect(throws: ValenceError.self) { try grid(#"{"name": "x", "out": "o", "path": "{nope}", "axes": {"seed": [1]}}"#) }
        // No path: every axis names a directory level.
        let g = try grid(#"{"name": "x", "out": "o", "axes": {"seed": [1, 2], "objective": ["psr"]}}"#)
        #expect(g.runs.map(\.path) == ["seed=1/objective=psr", "seed=2/objective=psr"])
    }
}
