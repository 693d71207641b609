import Foundation
import Testing
@testable import Valence

/// The registry is the one list of objectives: help, the compare grid, the report palette, the
/// docs table and the generated Makefile variables must follow it (a test fails if one misses an
/// objective), and every field's declaration round-trips through the CLI and config.json.
@Suite struct RegistryTests {
    @Test func generatedMakefileVariablesAreCurrent() throws {
        let file = try String(contentsOfFile: "\(TestSupport.repoRoot)/pipelines/config.mk", encoding: .utf8)
        #expect(file == RunConfig.makeVariables, "pipelines/config.mk is stale: run `make variables`")
    }

    @Test func makeHelpListsEveryObjectiveAndSetting() throws {
        let help = try TestSupport.make(["help"])
        #expect(help.status == 0)
        for o in Objective.all { #expect(help.stdout.contains(" \(o.rawValue)"), "make help lacks \(o.rawValue)") }
        for f in RunConfig.fields { if let make = f.make { #expect(help.stdout.contains("  \(make) ["), "make help lacks \(make)") } }
    }

    @Test func compareGridRunsEveryObjective() throws {
        // valence-init --list-objectives prints the registry; make compare's default is ALL_OBJECTIVES.
        let listed = try TestSupport.valence("init", ["--list-objectives"]).stdout
            .split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        #expect(listed == Objective.all.map(\.rawValue))
        // The compare grid file runs every objective, in registry order.
        let grid = try Grid.load("\(TestSupport.repoRoot)/data/grids/compare.json")
        let axis = try #require(grid.axes.first { $0.key == "objective" })
        #expect(axis.values.compactMap { $0 } == Objective.all.map(\.rawValue), "data/grids/compare.json's objectives differ from the registry")
        let make = try String(contentsOfFile: "\(TestSupport.repoRoot)/Makefile", encoding: .utf8)
        #expect(make.contains("OBJECTIVES ?= $(ALL_OBJECTIVES)"))
    }

    @Test func paletteHasADistinctColourPerObjective() {
        let colours = Objective.all.map { ObjectivePalette.color(for: $0.rawValue) }
        #expect(Set(colours).count == Objective.all.count)
        for o in Objective.all { #expect(ObjectivePalette.fixed.contains { $0.name == o.rawValue }, "palette lacks \(o.rawValue)") }
    }

    @Test func docsTableIsTheRegistrys() throws {
        let page = try String(contentsOfFile: "\(TestSupport.repoRoot)/docs/objectives.md", encoding: .utf8)
        #expect(page.contains(Objective.docsTable), "docs/objectives.md's table differs from Objective.docsTable")
    }

    @Test func everyFieldRoundTripsThroughTheCommandLineAndConfigJSON() throws {
        let args = ["--objective", "passk", "--passk-k", "3", "--clip", "0.2", "--clip-high", "0.28", "--clip-cov", "on",
                    "--minibatches", "4", "--filter-groups", "--seed", "7"]
        let c = try RunConfig.parse(arguments: args)
        try c.validate()
        #expect(c.objective.rawValue == "passk" && PassK.k(c) == 3 && c.seed == 7 && c.filterGroups)
        let o = UpdateOptions(config: c)
        #expect(o.clipLow == 0.2 && o.clipHigh == 0.28 && o.clipCov?.ratio == 0.0002)
        let back = try RunConfig(json: JSONFields(try JSONValue.parse(c.json.compactBytes), path: "config.json"))
        #expect(back == c && back.runID == c.runID)
        #expect(throws: RunConfig.ArgumentError.self) { try RunConfig.parse(arguments: ["--no-such", "1"]) }
        // lr follows the optimizer unless given.
        #expect(try RunConfig.parse(arguments: ["--optimizer", "sgd"]).learningRate == 1.0)
    }

    @Test func undefinedCombinationsAreRefusedWithExit78() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for args in [["--kl-cov", "on", "--clip", "0.2"], ["--clip-cov", "on"], ["--objective", "nsr-ul", "--clip", "0.2"],
                     ["--objective", "topr", "--kl-cov", "on"], ["--kl-cov", "on", "--clip-cov", "on", "--clip", "0.2"],
                     ["--clip-high", "0.28"], ["--objective", "passk", "--passk-k", "9"]] {
            let r = try TestSupport.valence("init", ["--run", "\(dir)/r", "--quiet"] + args)
            #expect(r.status == 78, "\(args): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/r/config.json"))
        }
    }
}
