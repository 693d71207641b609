/// A grid of runs declared in a small JSON file (`data/grids/*.json`): fixed `valence-init`
/// options, axes whose values expand to their product, and optional cases (a union of sub-grids).
///
/// ```json
/// {
///   "name": "compare", "out": "runs/compare", "report": "compare", "samples": 1024,
///   "path": "w{window}/seed{seed}/{objective}",
///   "set": {"steps": 60},
///   "axes": {"window": [0, 1], "seed": [1], "objective": ["psr", "nsr"]},
///   "cases": [{"group": [2, 4]}, {"rollouts": ["expected"]}]
/// }
/// ```
/// Keys are `valence-init` long options without the dashes; `true` is a bare flag, `false`,
/// `null` and `"off"` leave the option out; an axis given as `"@objectives"` runs every registered
/// objective. Runs are product(axes) x (union over cases of
/// product(case)), in the file's key order; each run's directory is `path` with every `{key}`
/// replaced by its value, under the output directory.
public struct Grid: Sendable, Equatable {
    /// One option value as text (`"0.03"`, `"psr"`), or nil when the option is left out.
    public typealias Value = String?

    public var name: String
    public var out: String
    /// Which report the runs feed (``GridReport``), or "none".
    public var report: String
    /// Rollouts per test prompt for the sampled Pass@k of the base and final policies (0: none).
    public var samples: Int
    public var path: String
    public var fixed: [(key: String, value: Value)]
    public var axes: [(key: String, values: [Value])]
    public var cases: [[(key: String, values: [Value])]]

    public static func == (a: Grid, b: Grid) -> Bool {
        a.name == b.name && a.out == b.out && a.report == b.report && a.samples == b.samples && a.path == b.path
            && a.runs.map(\.path) == b.runs.map(\.path) && a.runs.map(\.options) == b.runs.map(\.options)
    }

    /// One run of the grid: its directory (relative to the output directory) and its options.
    public struct Run: Sendable, Equatable {
        public var path: String
        /// `valence-init` arguments, fixed options first, then the axes in order.
        public var options: [String]
        /// Every field's value by key (for reports and progress lines).
        public var fields: [String: String]
    }

    public static func load(_ file: String) throws -> Grid {
        let json = try JSONFields.load(file)
        func text(_ v: JSONValue, _ key: String) throws -> Value {
            switch v {
            case .null, .bool(false): return nil
            case .bool(true): return "true"
            case .int(let i): return String(i)
            case .double(let d): return formatOption(d)
            case .string(let s): return s == "off" ? nil : s
            case .array, .object:
                throw ValenceError.badData(path: file, line: nil, detail: "\"\(key)\" must be a number, string, true, false or null")
            }
        }
        func axes(_ fields: JSONFields) throws -> [(key: String, values: [Value])] {
            guard case .object(let items) = fields.value else { return [] }
            return try items.map { key, value in
                // "@objectives": every registered objective, in registry order, so a grid that means
                // "all of them" needs no edit when one is added.
                if case .string(Self.allObjectives) = value { return (key, Objective.all.map { $0.rawValue }) }
                guard case .array(let list) = value, !list.isEmpty else {
                    throw ValenceError.badData(path: file, line: nil,
                                               detail: "axis \"\(key)\" must be a non-empty list of values (or \"\(Self.allObjectives)\")")
                }
                return (key, try list.map { try text($0, key) })
            }
        }
        var grid = Grid(name: try json.string("name"), out: try json.string("out"),
                        report: json.has("report") ? try json.string("report") : "none",
                        samples: json.has("samples") ? try json.int("samples") : 0,
                        path: json.has("path") ? try json.string("path") : "", fixed: [], axes: [], cases: [])
        if json.has("set"), case .object(let items) = try json.object("set").value {
            grid.fixed = try items.map { ($0.0, try text($0.1, $0.0)) }
        }
        if json.has("axes") { grid.axes = try axes(try json.object("axes")) }
        if json.has("cases") {
            grid.cases = try json.array("cases").map { item in
                guard case .object = item else {
                    throw ValenceError.badData(path: file, line: nil, detail: "each of \"cases\" must be an object of axes")
                }
                return try axes(JSONFields(item, path: file))
            }
        }
        if grid.path.isEmpty {
            grid.path = (grid.axes + grid.cases.flatMap { $0 }).map(\.key).uniqued().map { "\($0)={\($0)}" }.joined(separator: "/")
        }
        guard !grid.runs.isEmpty else { throw ValenceError.badData(path: file, line: nil, detail: "the grid has no runs") }
        try grid.checkPaths(file)
        return grid
    }

    /// Sets `key` to one value for every run (replacing it where it is an axis).
    public mutating func set(_ key: String, _ value: Value) {
        axes.removeAll { $0.key == key }
        for i in cases.indices { cases[i].removeAll { $0.key == key } }
        if let i = fixed.firstIndex(where: { $0.key == key }) { fixed[i].value = value } else { fixed.append((key, value)) }
    }

    /// Replaces the values of axis `key` (in the axes or the cases that have it), or adds the axis.
    public mutating func setAxis(_ key: String, _ values: [Value]) {
        fixed.removeAll { $0.key == key }
        var found = false
        if let i = axes.firstIndex(where: { $0.key == key }) { axes[i].values = values; found = true }
        for c in cases.indices {
            if let i = cases[c].firstIndex(where: { $0.key == key }) { cases[c][i].values = values; found = true }
        }
        if !found { axes.append((key, values)) }
    }

    /// Every run, in expansion order.
    ///
    /// - Complexity: O(runs x fields).
    public var runs: [Run] {
        let subgrids = cases.isEmpty ? [axes] : cases.map { axes + $0 }
        var result: [Run] = []
        for sub in subgrids {
            var combinations: [[(String, Value)]] = [[]]
            for axis in sub {
                combinations = combinations.flatMap { prefix in axis.values.map { prefix + [(axis.key, $0)] } }
            }
            for combination in combinations {
                let all = fixed.filter { f in !combination.contains { $0.0 == f.key } }.map { ($0.key, $0.value) } + combination
                var options: [String] = []
                var fields: [String: String] = [:]
                for (key, value) in all {
                    fields[key] = value ?? "off"
                    guard let value else { continue }
                    options += value == "true" ? ["--\(key)"] : ["--\(key)", value]
                }
                var path = self.path
                for (key, value) in fields { path = path.replacingAll("{\(key)}", with: value) }
                result.append(Run(path: path, options: options, fields: fields))
            }
        }
        return result
    }

    /// Two runs with one directory would write into each other.
    public func checkPaths(_ file: String) throws {
        var seen: Set<String> = []
        for run in runs {
            guard !run.path.contains("{") else {
                throw ValenceError.badData(path: file, line: nil, detail: "path \"\(path)\" names a field no run has: \(run.path)")
            }
            guard seen.insert(run.path).inserted else {
                throw ValenceError.badData(path: file, line: nil, detail: "two runs share the directory \(run.path): add the field that tells them apart to \"path\"")
            }
        }
    }

    /// The axis value that stands for every registered objective.
    public static let allObjectives = "@objectives"

    /// A number as an option: integral values without a fraction ("1", not "1.0").
    static func formatOption(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
    }

    /// Parses a command-line value ("0.2", "psr", "off") as a grid file value.
    public static func value(_ text: String) -> Value { text == "off" || text == "false" ? nil : text }
}

extension Array where Element: Hashable {
    fileprivate func uniqued() -> [Element] {
        var seen: Set<Element> = []
        return filter { seen.insert($0).inserted }
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) {
                result += replacement
                i = index(i, offsetBy: target.count)
            } else {
                result.append(self[i])
                i = index(after: i)
            }
        }
        return result
    }
}
