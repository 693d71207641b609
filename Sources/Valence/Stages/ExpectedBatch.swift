/// The batch statistics of an expected-mode step (docs/model.md 8) as eval writes them: expectations over
/// each prompt's c ~ Binomial(G, p_x), summed by split's parts (and weight's, for the dropped groups
/// of group filtering), real numbers where a sampled step has counts.
struct ExpectedBatch {
    var prompts = 0.0
    var pSum = 0.0
    var positives = 0.0, negatives = 0.0
    var solvedAll = 0.0, solvedNone = 0.0, solvedSome = 0.0
    var dropped: (allCorrect: Double, allWrong: Double)?

    init(_ env: StageEnvironment, step: Int, split: [Manifest], weight: [Manifest]) throws {
        let shards = env.config.shards
        for (shard, m) in split.enumerated() {
            let path = env.layout.path(RunLayout.partManifest(step: step, SplitStage.directory, shard: shard, shards: shards))
            let s = try ExpectedStats(m, path: path)
            prompts += try s.number("groups", path: path)
            pSum += try s.number("p_sum", path: path)
            positives += try s.number("positives", path: path)
            negatives += try s.number("negatives", path: path)
            solvedAll += try s.number("solved_all", path: path)
            solvedNone += try s.number("solved_none", path: path)
            solvedSome += try s.number("solved_some", path: path)
        }
        if env.config.filterGroups {
            var d = (allCorrect: 0.0, allWrong: 0.0)
            for (shard, m) in weight.enumerated() {
                let path = env.layout.path(RunLayout.partManifest(step: step, WeightStage.directory, shard: shard, shards: shards))
                let s = try ExpectedStats(m, path: path)
                d.allCorrect += try s.number("dropped_groups_all_correct", path: path)
                d.allWrong += try s.number("dropped_groups_all_wrong", path: path)
            }
            dropped = d
        }
    }

    /// The metrics.jsonl fields, in the order a sampled step writes them.
    func write(into w: inout JSONWriter, update: UpdateStats) {
        w.key("batch_correct"); w.double(prompts > 0 ? pSum / prompts : 0)
        w.key("positives"); w.double(positives)
        w.key("negatives"); w.double(negatives)
        w.key("solved_all"); w.double(solvedAll)
        w.key("solved_none"); w.double(solvedNone)
        w.key("solved_some"); w.double(solvedSome)
        w.key("grad_norm"); w.double(update.gradNorm)
        w.key("grad_norm_psr"); w.double(update.gradNormPSR)
        w.key("grad_norm_nsr"); w.double(update.gradNormNSR)
        if let dropped {
            w.key("dropped_groups_all_correct"); w.double(dropped.allCorrect)
            w.key("dropped_groups_all_wrong"); w.double(dropped.allWrong)
        }
    }
}
