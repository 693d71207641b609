/// What every expected-mode stage part shares (SPEC 8): the part lock, the input digest, the
/// up-to-date check and the manifest written last, as in the sampled stages.
extension StageEnvironment {
    /// Runs `body` for one part unless its manifest is up to date for `files`; `body` writes the
    /// outputs and returns them with the manifest's stats and a progress line.
    func expectedPart(stage: String, step: Int, shard: Int?, manifest manifestFile: String, files: [String],
                      _ body: () throws -> (outputs: [Manifest.Output], stats: [(String, JSONValue)], say: String)) throws -> Manifest {
        let lock = try lockPart(manifestFile, stage: stage)
        defer { lock.release() }
        let inputs = try inputDigest(stage: "\(stage) expected", step: step, shard: shard, files: files)
        let part = shard.map { " part \($0 + 1)/\(config.shards)" } ?? ""
        if let done = upToDate(manifestFile, inputs: inputs) {
            say("\(stage): step \(step)\(part) is up to date")
            return done
        }
        let result = try body()
        let manifest = Manifest(stage: stage, run: runID, step: step, shard: shard, shards: shard == nil ? nil : config.shards,
                                inputs: inputs, outputs: result.outputs, stats: result.stats)
        try manifest.write(to: layout.path(manifestFile))
        say("\(stage): step \(step)\(part): \(result.say)")
        return manifest
    }

    /// Writes expected records to a shard and describes it for a manifest.
    func writeExpected(_ records: [ExpectedRecord], to file: String) throws -> Manifest.Output {
        let writer = try ShardWriter(path: layout.path(file))
        for r in records {
            r.encode(into: &writer.json)
            try writer.endRecord()
        }
        let s = try writer.commit()
        return .init(path: file, schema: Schema.expected.rawValue, records: s.records, bytes: s.bytes, digest: s.digest)
    }
}
