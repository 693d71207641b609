/// One field of the run config, declared once: its config.json key, its `valence-init` flag, its
/// Makefile variable, type, default, bounds (as a check), help text and whether it is part of the
/// run's identity. The CLI parser, config.json (both ways), the run id, `valence-init --help` and the
/// generated Makefile variables (`valence-init --make-variables`) all follow from the declarations in
/// ``RunConfig/fields``.
public struct ConfigField: Sendable {
    public enum Kind: Sendable, Equatable {
        case int, double, bool, text
    }

    /// How the field enters the run id.
    public enum Identity: Sendable, Equatable {
        /// Always part of the identity (and required in config.json).
        case always
        /// Part of the identity only when it differs from its default, so runs made before the field
        /// existed keep their id; config.json records it either way (after the identity fields).
        case unlessDefault
        /// Never: execution settings (steps, shards). Required in config.json.
        case never
    }

    /// config.json key (snake_case).
    public let key: String
    /// `valence-init --flag`; nil when the field has no option (the task).
    public let flag: String?
    /// Makefile variable; nil when make does not set it.
    public let make: String?
    public let kind: Kind
    /// Accepts `off` (JSON null).
    public let optional: Bool
    /// What `on` means for an optional field (e.g. KL-Cov's ratio 0.002); nil when `on` is not accepted.
    public let onValue: Double?
    /// The default, as written to config.json.
    public let defaultValue: JSONValue
    /// The default when it depends on other fields (lr and weight decay follow the optimizer);
    /// applied by the CLI when the flag is not given. Make's default is then empty.
    let derived: Derived?

    /// A default computed from other fields.
    public struct Derived: Sendable {
        let value: @Sendable (RunConfig) -> JSONValue
        public init(_ value: @escaping @Sendable (RunConfig) -> JSONValue) { self.value = value }
    }
    /// Allowed values of a text field, for help and the Makefile listing.
    public let choices: [String]
    public let help: String
    public let identity: Identity
    /// Whether config.json lists the field at its default. The update switches that predate the
    /// registry are listed; rule-owned fields appear only when set, so a config.json written before
    /// they existed is the one written now, byte for byte.
    public var recordedAtDefault = true
    let get: @Sendable (RunConfig) -> JSONValue
    let set: @Sendable (inout RunConfig, JSONValue) throws -> Void
    /// The field's bounds: nil when the config's value is allowed, else the reason it is not.
    let check: @Sendable (RunConfig) -> String?

    public init(_ key: String, flag: String? = nil, noFlag: Bool = false, make: String?, _ kind: Kind, optional: Bool = false, on: Double? = nil,
                default defaultValue: JSONValue, derived: Derived? = nil,
                choices: [String] = [], identity: Identity, help: String,
                get: @escaping @Sendable (RunConfig) -> JSONValue,
                set: @escaping @Sendable (inout RunConfig, JSONValue) throws -> Void,
                check: @escaping @Sendable (RunConfig) -> String? = { _ in nil }) {
        self.key = key
        self.flag = noFlag ? nil : (flag ?? key.replacingUnderscores)
        self.make = make
        self.kind = kind
        self.optional = optional
        onValue = on
        self.defaultValue = defaultValue
        self.derived = derived
        self.choices = choices
        self.help = help
        self.identity = identity
        self.get = get
        self.set = set
        self.check = check
    }

    /// The value of one command-line (or Makefile) word for this field: `off` for optional fields,
    /// `on` where the field has an on-value, numbers by kind. nil when the word is not a value.
    public func parse(_ word: String) -> JSONValue? {
        if optional && word == "off" { return .null }
        if let onValue, word == "on" { return .double(onValue) }
        switch kind {
        case .int:
            if let i = Int(word) { return .int(i) }
            // The seed is a UInt64, stored as its bit pattern.
            if let u = UInt64(word) { return .int(Int(bitPattern: UInt(u))) }
            return nil
        case .double:
            guard let d = Double(word), d.isFinite else { return nil }
            return .double(d)
        case .bool:
            switch word {
            case "1", "yes", "true", "on": return .bool(true)
            case "0", "no", "false", "off": return .bool(false)
            default: return nil
            }
        case .text:
            return choices.isEmpty || choices.contains(word) ? .string(word) : nil
        }
    }

    /// The value of this field in a config.json object.
    func decode(_ json: JSONFields) throws -> JSONValue {
        if optional, json.value[key] == .null { return .null }
        switch kind {
        case .int: return .int(try json.int(key))
        case .double: return .double(try json.double(key))
        case .bool: return .bool(try json.bool(key))
        case .text: return .string(try json.string(key))
        }
    }

    /// The default as a word for make and help: `off`, a number, `0`/`1` for flags, or empty when
    /// it follows other fields.
    public var defaultWord: String {
        if derived != nil { return "" }
        switch defaultValue {
        case .null: return "off"
        case .bool(let b): return b ? "1" : "0"
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
        case .string(let s): return s
        default: return ""
        }
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? "-" : $0 }) }
}
