import ArgumentParser
import Valence

/// The run settings `valence-init` and `valence-step --create` take (`--name value`, one per
/// field of ``RunConfig``), parsed the same way by both.
extension RunConfig {
    /// The settings in `arguments`; one that does not parse is a usage error (exit 64).
    public static func parsingSettings(_ arguments: [String]) throws -> RunConfig {
        do {
            return try RunConfig.parse(arguments: arguments)
        } catch let e as RunConfig.ArgumentError {
            throw ValidationError(e.description)
        }
    }

    /// Shell completion for the settings: every field's flag.
    public static var settingsCompletion: CompletionKind {
        .list(RunConfig.fields.compactMap { $0.flag.map { "--\($0)" } })
    }
}
