import Foundation
import Testing
@testable import Valence

/// Expected-gradient mode (docs/model.md 8) through the real stages: equal-weight objectives give the same
/// checkpoints, Adam makes reinforce and w-reinforce follow them up to its eps, the records say what
/// each prompt contributed, the statistics are expectations, and undefined switches are refused.
@Suite struct ExpectedModeTests {
    static func config(_ objective: Objective, optimizer: OptimizerKind, steps: Int = 6) -> RunConfig {
        var c = RunConfig()
        c.digits = 2
        c.trainPrompts = 120
        c.testPrompts = 40
        c.corpus = 2000
        c.batch = 120  // every train prompt every step: no randomness at all
        c.group = 8
        c.steps = steps
        c.objective = objective
        c.optimizer = optimizer
        c.learningRate = optimizer == .sgd ? 1.0 : 0.03
        c.rollouts = .expected
        return c
    }

    /// Runs every step in-process and returns the final logits.
    static func train(_ config: RunConfig, in dir: String) throws -> [Double] {
        try InitStage.run(root: dir, config: config)
        let env = StageEnvironment(layout: RunLayout(root: dir), config: config)
        for step in 1...config.steps {
            for s in 0..<config.shards { try GenerateStage.run(env, step: step, shard: s) }
            for s in 0..<config.shards { try VerifyStage.run(env, step: step, shard: s) }
            for s in 0..<config.shards { try SplitStage.run(env, step: step, shard: s) }
            for s in 0..<config.shards { try WeightStage.run(env, step: step, shard: s) }
            try UpdateStage.run(env, step: step)
        }
        return try TabularPolicy.read(from: "\(dir)/\(RunLayout.policy(config.steps))", space: config.space).policy.logits
    }

    static func maxDifference(_ x: [Double], _ y: [Double]) -> Double {
        zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test(arguments: [OptimizerKind.sgd, .adam])
    func equalWeightObjectivesGiveIdenticalCheckpoints(optimizer: OptimizerKind) throws {
        let dir = TestSupport.temporaryDirectory("valence-expected")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let psr = try Self.train(Self.config(.psr, optimizer: optimizer), in: "\(dir)/psr")
        let base = try TabularPolicy.read(from: "\(dir)/psr/\(RunLayout.policy(0))", space: Self.config(.psr, optimizer: optimizer).space).policy.logits
        #expect(Self.maxDifference(psr, base) > 1e-3, "training must move the table")
        for objective in [Objective.nsr, .rloo, .ppo] {
            let other = try Self.train(Self.config(objective, optimizer: optimizer), in: "\(dir)/\(objective.rawValue)")
            let d = Self.maxDifference(psr, other)
            #expect(d <= 1e-12, "\(objective.rawValue) vs psr under \(optimizer.rawValue): max logit difference \(d)")
        }
        // grpo's weight is not p: it must differ (the test can tell trajectories apart).
        let grpo = try Self.train(Self.config(.grpo, optimizer: optimizer), in: "\(dir)/grpo")
        #expect(Self.maxDifference(psr, grpo) > 1e-6)
    }

    /// reinforce (w = 2p) and w-reinforce (w = 1.1 p) scale psr's expected gradient by a constant c.
    /// Adam's step m_hat / (sqrt(v_hat) + eps) is invariant to that scale except through eps: on
    /// c g it equals the step on g with eps / c. So (1) at step 1, from the same policy, the
    /// gradients are exactly c times psr's (bit for bit for c = 2), leaving eps as the only
    /// difference, and (2) after 6 steps the logits agree to 1e-4, while the table moved by ~0.2
    /// and under SGD (no normalisation) the same objectives end ~0.1 apart. The remaining gap comes
    /// from coordinates whose gradient is ~1e-6 or smaller, where eps = 1e-8 is not negligible
    /// against sqrt(v_hat) (per step at most about lr * eps / sqrt(v_hat)).
    @Test func adamRemovesTheScaleOfReinforceAndWReinforce() throws {
        let dir = TestSupport.temporaryDirectory("valence-expected-scale")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = Self.config(.psr, optimizer: .adam)
        let space = try config.space
        let psr = try Self.train(config, in: "\(dir)/psr")
        let psrStep1 = try GradientParts.read(from: "\(dir)/psr/\(GradientParts.file(1))", space: space)
        for (objective, scale) in [(Objective.reinforce, 2.0), (.wReinforce, 1.1)] {
            let other = try Self.train(Self.config(objective, optimizer: .adam), in: "\(dir)/\(objective.rawValue)")
            let step1 = try GradientParts.read(from: "\(dir)/\(objective.rawValue)/\(GradientParts.file(1))", space: space)
            var worst = 0.0
            for i in psrStep1.psr.indices {
                let g = step1.psr[i] + step1.nsr[i], reference = scale * (psrStep1.psr[i] + psrStep1.nsr[i])
                worst = max(worst, abs(g - reference))
            }
            #expect(scale == 2 ? worst == 0 : worst < 1e-15, "\(objective.rawValue): step-1 gradient is not \(scale) x psr's (\(worst))")
            let d = Self.maxDifference(psr, other)
            #expect(d < 1e-4, "\(objective.rawValue) vs psr under adam: \(d)")
        }
        let sgdPSR = try Self.train(Self.config(.psr, optimizer: .sgd), in: "\(dir)/sgd-psr")
        let sgdReinforce = try Self.train(Self.config(.reinforce, optimizer: .sgd), in: "\(dir)/sgd-reinforce")
        #expect(Self.maxDifference(sgdPSR, sgdReinforce) > 1e-2)
    }

    /// Same seed, 1 or 3 shards: byte-identical checkpoints and gradient parts (the sums follow the
    /// canonical prompt order whatever the sharding), and ppo's critic too.
    @Test func shardingDoesNotChangeABit() throws {
        let dir = TestSupport.temporaryDirectory("valence-expected-shards")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for objective in [Objective.grpo, .ppo] {
            var one = Self.config(objective, optimizer: .adam, steps: 2)
            one.batch = 30
            var three = one
            three.shards = 3
            _ = try Self.train(one, in: "\(dir)/\(objective.rawValue)-1")
            _ = try Self.train(three, in: "\(dir)/\(objective.rawValue)-3")
            var files = [RunLayout.policy(2), RunLayout.optimizerState(2), GradientParts.file(2)]
            if objective == .ppo { files.append(RunLayout.critic(2)) }
            for file in files {
                let a = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(objective.rawValue)-1/\(file)"))
                let b = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(objective.rawValue)-3/\(file)"))
                #expect(a == b, "\(objective.rawValue) \(file) differs between 1 and 3 shards")
            }
        }
    }

    @Test func recordsAndStatisticsAreExpectations() throws {
        let dir = TestSupport.temporaryDirectory("valence-expected-records")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = Self.config(.wReinforce, optimizer: .adam, steps: 1)
        config.batch = 30
        _ = try Self.train(config, in: dir)
        let env = StageEnvironment(layout: RunLayout(root: dir), config: config)
        try EvalStage.run(env, step: 0)
        try EvalStage.run(env, step: 1)
        let lines = try TestSupport.zstdLines("\(dir)/\(RunLayout.shard(step: 1, "weighted/expected", shard: 0, shards: 1))")
        #expect(lines.count == 30)
        var ps: [Double] = []
        let task = try config.task
        for line in lines {
            let f = JSONFields(try JSONValue.parse(Array(line.utf8)), path: "weighted")
            let a = try f.int("a"), b = try f.int("b"), p = try f.double("p")
            #expect(try f.string("answer") == String(repeating: "0", count: task.length - String(a + b).count) + String(a + b))
            let tokens = try f.array("p_tokens").compactMap(\.doubleValue)
            #expect(abs(tokens.reduce(1, *) - p) < 1e-15)
            let w = ExpectedWeight.of(p: p, config: config)
            #expect(try f.double("w_psr") == w.psr && f.double("w_nsr") == w.nsr)
            #expect(abs(try f.double("w") - 1.1 * p) < 1e-14)
            ps.append(p)
        }
        let metrics = try MetricsLine.load("\(dir)/metrics.jsonl")
        let step1 = try #require(metrics.last)
        let mean = ps.reduce(0, +) / Double(ps.count)
        #expect(abs((step1.number("batch_correct") ?? -1) - mean) < 1e-12)
        #expect(abs((step1.number("positives") ?? -1) - 8 * ps.reduce(0, +)) < 1e-9)
        #expect(abs((step1.number("negatives") ?? -1) - 8 * ps.reduce(0) { $0 + 1 - $1 }) < 1e-9)
        #expect(abs((step1.number("solved_all") ?? -1) - ps.reduce(0) { $0 + pow($1, 8) }) < 1e-12)
        #expect(abs((step1.number("solved_none") ?? -1) - ps.reduce(0) { $0 + pow(1 - $1, 8) }) < 1e-9)
        #expect(step1.number("entropy_pred") != nil && step1.number("entropy_dir_psr") != nil)
    }

    @Test func undefinedSwitchesAreRefusedAtInitAndTheDefaultKeepsRunIDs() throws {
        let dir = TestSupport.temporaryDirectory("valence-expected-init")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for extra in [["--minibatches", "2"], ["--clip", "0.2"], ["--objective", "nsr-ul"]] {
            let r = try TestSupport.valence("init", ["--run", "\(dir)/x", "--rollouts", "expected", "--quiet"] + extra)
            #expect(r.status == 78, "\(extra): \(r.stderr)")
            #expect(r.stderr.contains("rollouts = expected does not define"))
            #expect(r.stderr.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/x/config.json"))
        }
        // An unknown value is refused like any other choice field's (the same exit code as --objective's).
        let bad = try TestSupport.valence("init", ["--run", "\(dir)/y", "--rollouts", "exact", "--quiet"])
        let badObjective = try TestSupport.valence("init", ["--run", "\(dir)/y", "--objective", "exact", "--quiet"])
        #expect(bad.status != 0 && bad.status == badObjective.status, "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/y/config.json"))
        // The default is left out of the identity, so sampled runs keep their ids.
        var c = RunConfig()
        #expect(!String(decoding: c.identityJSON.compactBytes, as: UTF8.self).contains("rollouts"))
        let sampled = c.runID
        c.rollouts = .expected
        #expect(c.runID != sampled)
        #expect(String(decoding: c.json.compactBytes, as: UTF8.self).contains("\"rollouts\":\"expected\""))
        let ok = try TestSupport.valence("init", ["--run", "\(dir)/z", "--rollouts", "expected", "--batch", "2000", "--quiet"])
        #expect(ok.status == 0, "BATCH may equal TRAIN: \(ok.stderr)")
        #expect(try RunConfig.load("\(dir)/z/config.json").rollouts == .expected)
    }
}
