#if canImport(Glibc)
import Glibc
#endif

/// split in expected-gradient mode (docs/model.md 8): a prompt's G rollouts are no longer cut into positive
/// and negative shards; each prompt carries both, in proportion p_x and 1 - p_x. What split still
/// computes is the group statistics, now as expectations over c ~ Binomial(G, p_x): positives
/// G p, negatives G (1 - p), solved_all p^G, solved_none (1 - p)^G (real numbers, per prompt and
/// summed in the manifest, where eval reads them).
extension SplitStage {
    public static func runExpected(_ env: StageEnvironment, step: Int, shard: Int) throws -> Manifest {
        try env.checkStep(step)
        let config = env.config
        let input = try env.upstreamShard(step: step, VerifyStage.directory, shard: shard, from: "verify").outputs[0]
        let manifestFile = RunLayout.partManifest(step: step, directory, shard: shard, shards: config.shards)
        return try env.expectedPart(SplitStage.self, step: step, shard: shard, manifest: manifestFile, files: [input.path]) { env in
            let G = Double(config.group)
            var records: [ExpectedRecord] = []
            var sums = (p: 0.0, positives: 0.0, negatives: 0.0, all: 0.0, none: 0.0)
            try env.forEachExpected(input, step: step, need: ["p"]) { r in
                let p = r.p ?? 0
                r.positives = G * p
                r.negatives = G * (1 - p)
                r.solvedAll = exp(G * log(p))
                r.solvedNone = exp(G * log1p(-p))
                sums.p += p
                sums.positives += G * p
                sums.negatives += G * (1 - p)
                sums.all += r.solvedAll ?? 0
                sums.none += r.solvedNone ?? 0
                records.append(r)
            }
            let out = try env.writeExpected(records, to: RunLayout.shard(step: step, "\(directory)/expected", shard: shard, shards: config.shards))
            let n = Double(records.count)
            return ([out], [("p_sum", .double(sums.p)), ("positives", .double(sums.positives)), ("negatives", .double(sums.negatives)),
                            ("groups", .int(records.count)), ("solved_all", .double(sums.all)), ("solved_none", .double(sums.none)),
                            ("solved_some", .double(n - sums.all - sums.none))],
                    "expected \(formatNumber(sums.positives, decimals: 2)) positive, \(formatNumber(sums.negatives, decimals: 2)) negative over \(records.count) groups")
        }
    }
}
