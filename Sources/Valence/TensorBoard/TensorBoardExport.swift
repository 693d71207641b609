#if canImport(Glibc)
import Glibc
#endif

/// Converts a run's `metrics.jsonl` into a TensorBoard event file at `RUN/tb/`.
///
/// One event per metrics line (per step and split) holding one scalar per numeric field, tagged by
/// ``MetricTags``; `null` fields (step 0's batch statistics) and non-numbers are left out. The
/// output depends only on the bytes of `metrics.jsonl`: the wall time of an event is its step in
/// seconds after the Unix epoch (the file-version event has 0), so rerunning the conversion gives
/// a byte-identical file, written atomically or, when it extends the existing file, appended (see
/// ``write(run:)``).
public enum TensorBoardExport {
    /// The directory inside a run that holds the event file (`tensorboard --logdir` shows the run as `NAME/tb`).
    public static let directoryName = "tb"
    /// The event file's name: TensorBoard needs `tfevents` in it; the fixed suffix keeps it deterministic.
    public static let fileName = "events.out.tfevents.0000000000.valence"

    /// What one conversion wrote.
    public struct Summary: Sendable, Equatable {
        public var path: String
        public var events: Int
        public var scalars: Int
    }

    /// The event file path of `run`.
    public static func eventFilePath(run: String) -> String {
        "\(run)/\(directoryName)/\(fileName)"
    }

    /// The event file bytes for the metrics lines of one run, in file order.
    public static func events(for lines: [MetricsLine]) -> (writer: EventFileWriter, scalars: Int) {
        var writer = EventFileWriter(wallTime: 0)
        var count = 0
        for line in lines {
            guard case .object(let fields) = line.fields else { continue }
            var scalars: [EventFileWriter.Scalar] = []
            for (key, value) in fields {
                guard let number = value.numberValue,
                      let tag = MetricTags.tag(for: key, split: line.split) else { continue }
                scalars.append(.init(tag: tag, value: Float(number)))
            }
            count += scalars.count
            writer.append(step: Int64(line.step), wallTime: Double(line.step), scalars: scalars)
        }
        return (writer, count)
    }

    /// Reads `RUN/metrics.jsonl` and writes `RUN/tb/events.out.tfevents...`.
    ///
    /// When the file already there is a prefix of the new bytes (the run has gone on since the last
    /// conversion, or an earlier append was cut short), only the missing bytes are appended to it:
    /// a running TensorBoard keeps the file open and reads on from where it was, so it shows the new
    /// steps, which it would not do for a file replaced by rename. Otherwise (a first conversion,
    /// metrics that changed) the file is written to a temporary name and renamed into place; when
    /// it already holds exactly these bytes nothing is written. Either way the result is the same bytes.
    @discardableResult
    public static func write(run: String) throws -> Summary {
        let lines = try MetricsLine.load("\(run)/metrics.jsonl")
        let (writer, scalars) = events(for: lines)
        let path = eventFilePath(run: run)
        let new = writer.bytes
        let old = FileSystem.exists(path) ? try FileSystem.readFile(path) : nil
        if let old, old.count < new.count, !old.isEmpty, new.starts(with: old) {
            try append(new[old.count...], to: path)
        } else if old != new {
            try writer.write(to: path)
        }
        return Summary(path: path, events: writer.events, scalars: scalars)
    }

    /// Appends `bytes` to the existing file at `path` and fsyncs it; errors name the file and the cause.
    /// The file is opened as every appended file is (``FileSystem/openForAppending(_:)``: its directory
    /// checked, a symbolic link at `path` refused).
    static func append(_ bytes: ArraySlice<UInt8>, to path: String) throws {
        let file = try FileSystem.openForAppending(path)
        try bytes.withUnsafeBytes { try file.write($0) }
        try file.sync()
        try file.close()
    }

    /// Every run directory (one holding `metrics.jsonl`) at or below `root`, sorted by path.
    /// Does not descend into a run's `steps/` or `tb/` or into hidden directories. O(directories visited).
    public static func findRuns(under root: String) throws -> [String] {
        var found: [String] = []
        func visit(_ dir: String) throws {
            if FileSystem.exists("\(dir)/metrics.jsonl") && FileSystem.exists("\(dir)/config.json") {
                found.append(dir)
                return
            }
            for name in try FileSystem.list(dir) where name != "steps" && name != directoryName {
                let child = "\(dir)/\(name)"
                if FileSystem.isDirectory(child) { try visit(child) }
            }
        }
        try visit(root)
        return found
    }
}

extension JSONValue {
    /// The value as a number when it is one (int or double); nil for null, strings, booleans, containers.
    var numberValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
}
