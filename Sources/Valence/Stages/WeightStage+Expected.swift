/// weight in expected-gradient mode (docs/model.md 8): each prompt's expected weight w_x = p_x (E_k A(1, k+1)
/// - E_k A(0, k)), k ~ Binomial(G - 1, p_x), split into its PSR and NSR parts
/// (``ExpectedWeight``), from the objective's own advantage rule (with group filtering when on).
extension WeightStage {
    public static func runExpected(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        try env.checkStep(step)
        let config = env.config
        let upstreamFile = RunLayout.partManifest(step: step, SplitStage.directory, shard: shard, shards: config.shards)
        let upstream = try env.requireManifest(upstreamFile, from: "split", step: step)
        guard let input = upstream.outputs.first(where: { $0.schema == Schema.expected.rawValue }) else {
            throw ValenceError.badData(path: env.layout.path(upstreamFile), line: nil, detail: "lists no expected shard (a sampled run's split?)")
        }
        let manifestFile = RunLayout.partManifest(step: step, directory, shard: shard, shards: config.shards)
        return try env.expectedPart(WeightStage.self, step: step, shard: shard, manifest: manifestFile, files: [input.path]) { env in
            let rule = ExpectedWeight.advantageRule(config)
            var records: [ExpectedRecord] = []
            var sums = (psr: 0.0, nsr: 0.0, all: 0.0, none: 0.0)
            try env.forEachExpected(input, step: step, need: ["p", "positives"]) { r in
                let w = ExpectedWeight.of(p: r.p ?? 0, group: config.group, filterGroups: config.filterGroups, advantage: rule)
                r.wPSR = w.psr
                r.wNSR = w.nsr
                sums.psr += w.psr
                sums.nsr += w.nsr
                sums.all += r.solvedAll ?? 0
                sums.none += r.solvedNone ?? 0
                records.append(r)
            }
            let out = try env.writeExpected(records, to: RunLayout.shard(step: step, "\(directory)/expected", shard: shard, shards: config.shards))
            var stats: [(String, JSONValue)] = [("objective", .string(config.objective.rawValue)),
                                                ("w_sum_psr", .double(sums.psr)), ("w_sum_nsr", .double(sums.nsr))]
            if config.filterGroups {
                stats.append(("dropped_groups_all_correct", .double(sums.all)))
                stats.append(("dropped_groups_all_wrong", .double(sums.none)))
            }
            return ([out], stats, "\(config.objective.rawValue) expected weights for \(records.count) prompts")
        }
    }
}
