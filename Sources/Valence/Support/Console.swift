#if canImport(Glibc)
import Glibc
#endif

/// Writes to standard error and standard output without Foundation and without touching the C
/// `stderr` global (which Swift 6 strict concurrency rejects).
public enum Console {
    public static func error(_ text: String) {
        writeAll(2, text + "\n")
    }

    /// Prints to standard output. A closed pipe (`... | head`) ends the process quietly with
    /// status 0, as a Unix filter should.
    public static func output(_ text: String) {
        if !writeAll(1, text + "\n") && errno == EPIPE { exit(0) }
    }

    /// Ignores SIGPIPE so that a closed pipe surfaces as EPIPE, handled in ``output(_:)``.
    public static func ignoreBrokenPipe() {
        signal(SIGPIPE, SIG_IGN)
    }

    @discardableResult
    static func writeAll(_ fd: Int32, _ text: String) -> Bool {
        var copy = text
        return copy.withUTF8 { buf in
            var offset = 0
            while offset < buf.count {
                let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }
}

/// Formats a number for people: fixed decimals, no exponent for ordinary magnitudes.
public func formatNumber(_ x: Double, decimals: Int = 4) -> String {
    guard x.isFinite else { return String(describing: x) }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (x * scale).rounded() / scale
    let negative = rounded < 0
    let magnitude = abs(rounded)
    let whole = Int(magnitude)
    var frac = Int(((magnitude - Double(whole)) * scale).rounded())
    var wholePart = whole
    if Double(frac) >= scale {
        frac = 0
        wholePart += 1
    }
    var fracText = String(frac)
    fracText = String(repeating: "0", count: max(0, decimals - fracText.count)) + fracText
    let sign = negative && (wholePart != 0 || frac != 0) ? "-" : ""
    return decimals > 0 ? "\(sign)\(wholePart).\(fracText)" : "\(sign)\(wholePart)"
}
