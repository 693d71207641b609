import ArgumentParser
import Valence
import ValenceCLI

/// Times Valence's rollout decoders on one shard for `make bench-codec`, which sets the result
/// beside simdjson On-Demand's (`bench/simdjson/decode.cpp`) on the same lines.
@main
struct BenchCodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-bench-codec",
        abstract: "Time Valence's rollout decoders on one shard (decode only, best of N).",
        discussion: """
            Decompresses the shard into memory once, then decodes every line REPS times with each \
            decoder and prints ns/record of the best pass and a checksum of the decoded values (the \
            same one bench/simdjson/decode.cpp prints). 'canonical' is what the stages call \
            (the canonical-layout fast path, the general decoder for lines it declines); 'general' \
            is the general decoder alone. A developer tool: see docs/performance.md.
            """
    )

    @Argument(help: ArgumentHelp("A shard of rollout, verified or weighted records (.jsonl.zst).", valueName: "shard"))
    var shard: String

    @Option(name: .long, help: "Repetitions; the fastest is reported.")
    var reps = 5

    @Option(name: .long, help: ArgumentHelp("Decoder to time: canonical, general or all.", valueName: "name"))
    var decoder = "all"

    @Option(name: .long, help: ArgumentHelp("Record kind: rollout, verified or weighted (default: from the first line).", valueName: "kind"))
    var schema: String?

    func validate() throws {
        if reps < 1 { throw ValidationError("--reps must be at least 1") }
        if decoder != "all" && CodecBenchmark.Decoder(rawValue: decoder) == nil {
            throw ValidationError("--decoder must be canonical, general or all")
        }
        if let schema, !["rollout", "verified", "weighted"].contains(schema) {
            throw ValidationError("--schema must be rollout, verified or weighted")
        }
    }

    func run() throws {
        try runStage("valence-bench-codec") {
            let lines = try CodecBenchmark.Lines(path: shard)
            let kind = schema.flatMap { Schema(rawValue: "valence.\($0)/1") } ?? lines.schema
            guard let kind, !lines.ranges.isEmpty else {
                throw ValenceError.badData(path: shard, line: nil, detail: "no rollout, verified or weighted records")
            }
            let decoders = CodecBenchmark.Decoder(rawValue: decoder).map { [$0] } ?? CodecBenchmark.Decoder.allCases
            for d in decoders {
                let progress = ProgressLine("valence-\(d.rawValue): decoding \(lines.ranges.count) records", total: reps, unit: "passes")
                let r = try CodecBenchmark.run(lines, as: kind, decoder: d, repetitions: reps, progress: progress)
                progress.finish()
                let hex = String(r.checksum, radix: 16)
                let checksum = String(repeating: "0", count: 16 - hex.count) + hex
                let ns = (r.bestNanosecondsPerRecord * 10).rounded() / 10
                Console.output("valence-\(d.rawValue): \(r.records) records, \(ns) ns/record (best of \(reps)), checksum \(checksum), canonical lines \(r.canonicalLines)")
            }
        }
    }
}
