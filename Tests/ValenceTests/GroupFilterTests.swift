import Foundation
import Testing
@testable import Valence

/// Group filtering and ppo's weighted records, through the real stages on a tiny run.
@Suite struct GroupFilterTests {
    static func tinyConfig(_ objective: Objective, filter: Bool) -> RunConfig {
        var c = RunConfig()
        c.digits = 1
        c.trainPrompts = 60
        c.testPrompts = 20
        c.corpus = 300
        c.batch = 24
        c.group = 4
        c.steps = 2
        c.objective = objective
        c.filterGroups = filter
        return c
    }

    static func runStages(_ env: StageEnvironment, step: Int) throws {
        try GenerateStage.run(env, step: step, shard: 0)
        try VerifyStage.run(env, step: step, shard: 0)
        try SplitStage.run(env, step: step, shard: 0)
        try WeightStage.run(env, step: step, shard: 0)
    }

    @Test func filteringDropsExactlyTheUniformGroups() throws {
        let dir = TestSupport.temporaryDirectory("valence-filter")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = Self.tinyConfig(.grpo, filter: true)
        try InitStage.run(root: dir, config: config)
        let env = StageEnvironment(layout: RunLayout(root: dir), config: config)
        try Self.runStages(env, step: 1)

        var correctByPrompt: [Int: Int] = [:]
        for line in try TestSupport.zstdLines("\(dir)/\(RunLayout.shard(step: 1, "split/groups", shard: 0, shards: 1))") {
            let f = JSONFields(try JSONValue.parse(Array(line.utf8)), path: "groups")
            correctByPrompt[try f.int("prompt")] = try f.int("correct")
        }
        let uniformCorrect = correctByPrompt.values.filter { $0 == 4 }.count
        let uniformWrong = correctByPrompt.values.filter { $0 == 0 }.count
        #expect(uniformWrong > 0, "the tiny run should have all-wrong groups to drop")
        #expect(uniformCorrect + uniformWrong < correctByPrompt.count, "and mixed groups to keep")

        var kept: [Int: Int] = [:]
        for kind in ["positive", "negative"] {
            for line in try TestSupport.zstdLines("\(dir)/\(RunLayout.shard(step: 1, "weighted/\(kind)", shard: 0, shards: 1))") {
                let f = JSONFields(try JSONValue.parse(Array(line.utf8)), path: kind)
                kept[try f.int("prompt"), default: 0] += 1
            }
        }
        let mixed = correctByPrompt.filter { $0.value > 0 && $0.value < 4 }
        #expect(Set(kept.keys) == Set(mixed.keys))
        #expect(kept.values.allSatisfy { $0 == 4 })

        let m = try Manifest.read("\(dir)/\(RunLayout.partManifest(step: 1, "weighted", shard: 0, shards: 1))")
        #expect(m.stat("dropped_groups_all_correct")?.intValue == uniformCorrect)
        #expect(m.stat("dropped_groups_all_wrong")?.intValue == uniformWrong)
        #expect(m.stat("dropped_rollouts")?.intValue == 4 * (uniformCorrect + uniformWrong))

        // The counts reach metrics.jsonl through update and eval.
        try UpdateStage.run(env, step: 1)
        try EvalStage.run(env, step: 0)
        try EvalStage.run(env, step: 1)
        let lines = try MetricsLine.load("\(dir)/metrics.jsonl")
        let last = try #require(lines.last)
        #expect(last.number("dropped_groups_all_wrong") == Double(uniformWrong))
        #expect(last.number("dropped_groups_all_correct") == Double(uniformCorrect))
    }

    @Test func withoutFilteringEveryRolloutIsWeighted() throws {
        let dir = TestSupport.temporaryDirectory("valence-filter")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = Self.tinyConfig(.grpo, filter: false)
        try InitStage.run(root: dir, config: config)
        let env = StageEnvironment(layout: RunLayout(root: dir), config: config)
        try Self.runStages(env, step: 1)
        let m = try Manifest.read("\(dir)/\(RunLayout.partManifest(step: 1, "weighted", shard: 0, shards: 1))")
        #expect(m.outputs.map(\.records).reduce(0, +) == 24 * 4)
        #expect(m.stat("dropped_rollouts") == nil)
    }

    /// ppo: weight writes adv_tokens = r - V(c) from the previous critic; update moves the critic by
    /// lr * mean residual of each visited row and checkpoints it beside the policy.
    @Test func ppoWritesTokenAdvantagesAndCheckpointsTheCritic() throws {
        let dir = TestSupport.temporaryDirectory("valence-ppo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = Self.tinyConfig(.ppo, filter: false)
        try InitStage.run(root: dir, config: config)
        let env = StageEnvironment(layout: RunLayout(root: dir), config: config)
        let space = try config.space
        #expect(try Critic.read(from: "\(dir)/\(RunLayout.critic(0))", space: space).values.allSatisfy { $0 == 0 })
        try Self.runStages(env, step: 1)
        try UpdateStage.run(env, step: 1)
        let critic1 = try Critic.read(from: "\(dir)/\(RunLayout.critic(1))", space: space)
        try Self.runStages(env, step: 2)

        // Recompute step 2's critic-based advantages and step 1's critic by hand from the shards.
        var sums = [Double](repeating: 0, count: space.rowCount), counts = [Int](repeating: 0, count: space.rowCount)
        for kind in ["positive", "negative"] {
            for line in try TestSupport.zstdLines("\(dir)/\(RunLayout.shard(step: 1, "weighted/\(kind)", shard: 0, shards: 1))") {
                let f = JSONFields(try JSONValue.parse(Array(line.utf8)), path: kind)
                let rows = space.rows(a: try f.int("a"), b: try f.int("b"))
                let r = Double(try f.int("reward"))
                let adv = try f.array("adv_tokens").map { $0.doubleValue ?? .nan }
                #expect(adv == rows.map { _ in r }, "V = 0 at step 1, so A = r")
                for row in rows { sums[row] += r; counts[row] += 1 }
            }
            for line in try TestSupport.zstdLines("\(dir)/\(RunLayout.shard(step: 2, "weighted/\(kind)", shard: 0, shards: 1))") {
                let f = JSONFields(try JSONValue.parse(Array(line.utf8)), path: kind)
                let rows = space.rows(a: try f.int("a"), b: try f.int("b"))
                let r = Double(try f.int("reward"))
                let adv = try f.array("adv_tokens").map { $0.doubleValue ?? .nan }
                #expect(adv == rows.map { r - critic1.values[$0] })
            }
        }
        for row in 0..<space.rowCount {
            let expected = counts[row] > 0 ? 0.5 * sums[row] / Double(counts[row]) : 0
            #expect(abs(critic1.values[row] - expected) < 1e-12)
        }
    }
}
