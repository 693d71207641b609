/// Everything that can go wrong in a stage, phrased for the person who has to fix it.
///
/// Each case maps to a documented exit code (sysexits-style) so that cron jobs and scripts can
/// tell bad input from a missing file from a busy run without parsing messages.
public enum ValenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file the stage needs does not exist (often: an upstream stage has not run yet).
    case missingInput(path: String, detail: String)
    /// A file exists but its content is wrong: corrupt zstd, malformed JSON, wrong schema, NaN, ...
    case badData(path: String, line: Int?, detail: String)
    /// The operating system refused a read, write, rename or directory operation.
    case io(path: String, detail: String)
    /// A configuration value is out of range or inconsistent.
    case config(detail: String)
    /// Another process holds the run's lock.
    case busy(detail: String)

    public var description: String {
        switch self {
        case let .missingInput(path, detail):
            return "\(path): \(detail)"
        case let .badData(path, line?, detail):
            return "\(path):\(line): \(detail)"
        case let .badData(path, nil, detail):
            return "\(path): \(detail)"
        case let .io(path, detail):
            return "\(path): \(detail)"
        case let .config(detail):
            return "config: \(detail)"
        case let .busy(detail):
            return detail
        }
    }

    /// The process exit status a stage uses for this error (see docs/reliability.md).
    public var exitCode: Int32 {
        switch self {
        case .badData: return 65       // EX_DATAERR
        case .missingInput: return 66  // EX_NOINPUT
        case .io: return 74            // EX_IOERR
        case .busy: return 75          // EX_TEMPFAIL
        case .config: return 78        // EX_CONFIG
        }
    }
}
