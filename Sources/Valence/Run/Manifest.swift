/// The record of one completed stage output: what it read, what it wrote, and a few counts.
///
/// A stage writes its manifest last, after every output is renamed into place, so a manifest's
/// presence means the outputs are complete. The next stage refuses to start without it, and a stage
/// whose manifest already matches its inputs does nothing (idempotent reruns).
public struct Manifest: Sendable, Equatable {
    public struct Output: Sendable, Equatable {
        /// Relative to the run directory.
        public var path: String
        public var schema: String
        public var records: Int
        public var bytes: Int
        public var digest: UInt64
    }

    public var stage: String
    public var run: Identifier
    public var step: Int
    public var shard: Int?
    public var shards: Int?
    /// Digest of everything the stage read (file contents and the run id).
    public var inputs: UInt64
    public var outputs: [Output]
    public var stats: [(String, JSONValue)]

    public init(stage: String, run: Identifier, step: Int, shard: Int?, shards: Int?, inputs: UInt64,
                outputs: [Output] = [], stats: [(String, JSONValue)] = []) {
        self.stage = stage
        self.run = run
        self.step = step
        self.shard = shard
        self.shards = shards
        self.inputs = inputs
        self.outputs = outputs
        self.stats = stats
    }

    public static func == (lhs: Manifest, rhs: Manifest) -> Bool {
        lhs.json == rhs.json
    }

    public func output(_ path: String) -> Output? { outputs.first { $0.path == path } }

    public func stat(_ key: String) -> JSONValue? { stats.first { $0.0 == key }?.1 }

    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [
            ("schema", .string(Schema.manifest.rawValue)),
            ("stage", .string(stage)),
            ("run", .string(run.description)),
            ("step", .int(step)),
        ]
        if let shard, let shards {
            fields.append(("shard", .int(shard)))
            fields.append(("shards", .int(shards)))
        }
        fields.append(("inputs", .string(Digest.hex(inputs))))
        fields.append(("outputs", .array(outputs.map { o in
            .object([
                ("path", .string(o.path)),
                ("schema", .string(o.schema)),
                ("records", .int(o.records)),
                ("bytes", .int(o.bytes)),
                ("fnv1a64", .string(Digest.hex(o.digest))),
            ])
        })))
        fields.append(("stats", .object(stats)))
        return .object(fields)
    }

    public func write(to path: String) throws {
        try FileSystem.writeAtomically(path, text: json.prettyText() + "\n")
    }

    /// Reads and checks the manifest at `path`.
    ///
    /// Every output path is checked here, once, before any stage can open it: it must be a
    /// ``RelativePath`` (relative, normal, no `..`), and when the manifest lies in a registered run
    /// directory (``Confinement``; every ``RunLayout`` registers its root) it must also resolve,
    /// symbolic links followed, inside that directory. Anything else is refused with exit 65
    /// naming this file and the field (`outputs[i].path`).
    public static func read(_ path: String) throws -> Manifest {
        guard FileSystem.exists(path) else {
            throw ValenceError.missingInput(path: path, detail: "no manifest: the stage that writes it has not completed")
        }
        let f = try JSONFields.load(path)
        let schema = try f.string("schema")
        guard schema == Schema.manifest.rawValue else {
            throw ValenceError.badData(path: path, line: nil, detail: "schema is \"\(schema)\", expected \"\(Schema.manifest.rawValue)\"")
        }
        func hex(_ key: String, _ text: String) throws -> UInt64 {
            guard text.count == 16, let v = UInt64(text, radix: 16) else {
                throw ValenceError.badData(path: path, line: nil, detail: "field \"\(key)\" is not 16 hex digits")
            }
            return v
        }
        var m = Manifest(
            stage: try f.string("stage"),
            run: Identifier(try hex("run", try f.string("run"))),
            step: try f.int("step"),
            shard: f.has("shard") ? try f.int("shard") : nil,
            shards: f.has("shards") ? try f.int("shards") : nil,
            inputs: try hex("inputs", try f.string("inputs"))
        )
        let root = Confinement.root(of: path)
        for (i, item) in try f.array("outputs").enumerated() {
            let o = JSONFields(item, path: path)
            m.outputs.append(Output(
                path: try confinedPath(try o.string("path"), field: "outputs[\(i)].path", manifest: path, root: root),
                schema: try o.string("schema"),
                records: try o.int("records"),
                bytes: try o.int("bytes"),
                digest: try hex("fnv1a64", try o.string("fnv1a64"))
            ))
        }
        m.stats = try f.object("stats").value.objectValue ?? []
        return m
    }

    /// `text` if it is a relative path that stays inside `root` (when given); else the error that
    /// names the manifest and the field.
    static func confinedPath(_ text: String, field: String, manifest: String, root: String?) throws -> String {
        func refuse(_ problem: String) -> ValenceError {
            .badData(path: manifest, line: nil, detail: "field \"\(field)\" (\(JSONValue.string(text).prettyText())) \(problem)")
        }
        let relative: RelativePath
        do {
            relative = try RelativePath(validating: text)
        } catch {
            throw refuse("\(error): a manifest lists only normal relative paths inside its run directory")
        }
        if let root, let escape = Confinement.escape(of: relative, under: root) {
            throw refuse(escape.description)
        }
        return text
    }
}
