/// One part of an expected-mode stage (docs/mechanism.md): the stage skeleton
/// (``StageEnvironment/run(_:)``) with the expected-mode plan and work given as closures, under the
/// name of the sampled stage it stands in for (so its manifest is the one the next stage requires).
struct ExpectedPart<Stage: StagePart>: StagePart {
    typealias Work = (StageEnvironment) throws -> (outputs: [Manifest.Output], stats: [(String, JSONValue)], say: String)

    static var name: String { Stage.name }
    let step: Int
    let shard: Int?
    let manifest: String
    let files: [String]
    let work: Work

    func plan(_ env: StageEnvironment) throws -> StagePlan {
        StagePlan(manifest: manifest, files: files, identity: "\(Self.name) expected")
    }

    func produce(_ env: StageEnvironment, plan: StagePlan) throws -> StageProduct<ExpectedStats> {
        let result = try work(env)
        return StageProduct(outputs: result.outputs, stats: ExpectedStats(fields: result.stats), summary: "\(place(env)): \(result.say)")
    }
}

/// An expected-mode part's manifest stats: real-valued expectations (docs/model.md 8) under the keys the
/// sampled stage uses where there is one, kept as written.
public struct ExpectedStats: ManifestStats {
    public var fields: [(String, JSONValue)]

    public init(fields: [(String, JSONValue)]) { self.fields = fields }

    public init(_ manifest: Manifest, path: String) throws { fields = manifest.stats }

    /// The stat `key` as a number, or an error naming the manifest.
    public func number(_ key: String, path: String) throws -> Double {
        guard let v = fields.first(where: { $0.0 == key })?.1.doubleValue else {
            throw ValenceError.badData(path: path, line: nil, detail: "stat \"\(key)\" is missing or not a number")
        }
        return v
    }
}

extension StageEnvironment {
    /// Runs one expected-mode part of `Stage` through the stage skeleton: `work` writes the outputs
    /// and returns them with the manifest's stats and a progress line.
    func expectedPart<Stage: StagePart>(_ stage: Stage.Type, step: Int, shard: Int?, manifest: String, files: [String],
                                        _ work: @escaping ExpectedPart<Stage>.Work) throws -> Manifest {
        try run(ExpectedPart<Stage>(step: step, shard: shard, manifest: manifest, files: files, work: work))
    }

    /// Writes expected records to a shard and describes it for a manifest.
    func writeExpected(_ records: [ExpectedRecord], to file: String) throws -> Manifest.Output {
        let writer = try shardWriter(file)
        for r in records {
            r.encode(into: &writer.json)
            try writer.endRecord()
        }
        let s = try writer.commit()
        return .init(path: file, schema: Schema.expected.rawValue, records: s.records, bytes: s.bytes, digest: s.digest)
    }
}
