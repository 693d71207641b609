/// `valence-init`'s settings, parsed from the field declarations (``RunConfig/fields``).
extension RunConfig {
    /// A command-line word that is not a setting: the message names it (usage error, exit 64).
    public struct ArgumentError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The config from `--flag value` / `--flag=value` words (bare `--flag` for booleans); fields not
    /// given keep their defaults, or follow other fields where the default does (lr, weight decay).
    public static func parse(arguments words: [String]) throws -> RunConfig {
        var config = RunConfig()
        var given: Set<String> = []
        var i = 0
        while i < words.count {
            let word = words[i]
            guard word.hasPrefix("--") else { throw ArgumentError(description: "unexpected argument '\(word)'") }
            var name = String(word.dropFirst(2))
            var value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let field = fields.first(where: { $0.flag == name }) else {
                throw ArgumentError(description: "unknown option '--\(name)' (valence-init --help lists the settings)")
            }
            if value == nil {
                if field.kind == .bool {
                    value = "1"
                } else {
                    guard i + 1 < words.count else { throw ArgumentError(description: "missing value for '--\(name)'") }
                    i += 1
                    value = words[i]
                }
            }
            guard let text = value, let parsed = field.parse(text) else {
                throw ArgumentError(description: "'\(value ?? "")' is not a value of '--\(name)' (\(field.valueHelp))")
            }
            do {
                try field.set(&config, parsed)
            } catch let ValenceError.config(detail) {
                throw ArgumentError(description: detail)
            }
            given.insert(field.key)
            i += 1
        }
        for field in fields where !given.contains(field.key) {
            if let derived = field.derived { try field.set(&config, derived.value(config)) }
        }
        return config
    }

    /// The settings as `valence-init --help` lists them.
    public static var argumentHelp: String {
        fields.compactMap { f -> String? in
            guard let flag = f.flag else { return nil }
            let value = f.kind == .bool ? "" : " <\(f.valueHelp)>"
            let def = f.derived != nil ? "" : " (default \(f.defaultWord))"
            return "  --\(flag)\(value)\n        \(f.help)\(def)" + (f.make.map { " [make \($0)]" } ?? "")
        }.joined(separator: "\n")
    }
}

extension ConfigField {
    /// The kind of value the field takes, in words.
    public var valueHelp: String {
        var parts: [String]
        switch kind {
        case .int: parts = ["integer"]
        case .double: parts = ["number"]
        case .bool: parts = ["flag"]
        case .text: parts = [choices.isEmpty ? "text" : choices.joined(separator: "|")]
        }
        if onValue != nil { parts.append("on") }
        if optional { parts.append("off") }
        return parts.joined(separator: "|")
    }
}
