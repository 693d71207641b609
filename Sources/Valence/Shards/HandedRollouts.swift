/// The rollout records a stage part wrote into a shard it handed to the write-behind queue, kept
/// with the shard's text (``WrittenShards``) so that the part reading the shard next in the same
/// process loads them instead of decoding every line again (docs/performance.md, "Research-speed
/// runs").
///
/// Record i is line i of the text, and its core (the fields `run` through `logp`, which a reader
/// copies into its own output: ``RolloutCore``) is at `core(i)` in it. ``load(_:into:)`` gives a
/// reader what decoding that line gives it: every line is the encoding of its record, whose numbers
/// read back as the same doubles. A record the decoder would refuse (``Rollout/decodesAsWritten(as:)``:
/// a value out of range, say an advantage past 1e9 from a hand-edited critic) is never kept: its
/// shard keeps no records, so the next part decodes it and fails on that line, as a stage process
/// would.
///
/// The records are kept flat (their scalars, and every record's tokens, log-probabilities, text and
/// token advantages in one array each): keeping `Rollout` values instead cost a retain per array
/// per record, and the generating stage, which reuses one value, a copy of each array it then
/// changed; more than decoding the line again.
///
/// - Complexity: ``append(_:core:)`` and ``load(_:into:)`` are O(the record's tokens).
final class HandedRollouts: @unchecked Sendable {
    struct Entry {
        var run: Identifier
        var step, prompt, sample, a, b: Int
        var verdict: Verdict
        var reward: Int
        var advantage: Double
        var tokens: Range<Int>
        var text: Range<Int>
        var advantageTokens: Range<Int>
        var core: Range<Int>
    }

    /// The kind of record every line of the text is.
    let schema: Schema
    // Unchecked exclusivity: appended to by the one writing part, then only read; the runtime's
    // access checks cost more than the copies (five accesses a record).
    @exclusivity(unchecked) private(set) var entries: [Entry] = []
    @exclusivity(unchecked) private var tokens = FlatBuffer<Int>()
    @exclusivity(unchecked) private var logp = FlatBuffer<Double>()
    @exclusivity(unchecked) private var text = FlatBuffer<UInt8>()
    @exclusivity(unchecked) private var advantageTokens = FlatBuffer<Double>()

    init(schema: Schema) {
        self.schema = schema
        entries.reserveCapacity(64)
    }

    deinit {
        tokens.free()
        logp.free()
        text.free()
        advantageTokens.free()
    }

    var count: Int { entries.count }

    /// The memory the records hold (what ``WrittenShards`` counts against its cap beside the text).
    var bytes: Int {
        entries.capacity * MemoryLayout<Entry>.stride + tokens.bytes + logp.bytes + text.bytes + advantageTokens.bytes
    }

    func core(_ i: Int) -> Range<Int> { entries[i].core }

    /// Keeps `record`, whose line's core is at `core` in the text.
    func append(_ record: Rollout, core: Range<Int>) {
        let t = tokens.append(record.tokens)
        logp.append(record.logp)
        let x = text.append(record.text)
        let v = advantageTokens.append(record.advantageTokens)
        entries.append(Entry(run: record.run, step: record.step, prompt: record.prompt, sample: record.sample,
                             a: record.a, b: record.b, verdict: record.verdict, reward: record.reward,
                             advantage: record.advantage, tokens: t, text: x, advantageTokens: v, core: core))
    }

    /// Sets the fields line `i` holds in `r`, leaving the others as they are: what decoding that
    /// line in place does (``Rollout/decode(_:as:numbers:)``; a line holds the verdict and reward
    /// from `verified` on, the advantages in `weighted`).
    func load(_ i: Int, into r: inout Rollout) {
        let e = entries[i]
        r.run = e.run
        r.step = e.step
        r.prompt = e.prompt
        r.sample = e.sample
        r.a = e.a
        r.b = e.b
        tokens.load(e.tokens, into: &r.tokens)
        logp.load(e.tokens, into: &r.logp)
        text.load(e.text, into: &r.text)
        if schema != .rollout {
            r.verdict = e.verdict
            r.reward = e.reward
        }
        if schema == .weighted {
            r.advantage = e.advantage
            advantageTokens.load(e.advantageTokens, into: &r.advantageTokens)
        } else if !r.advantageTokens.isEmpty {
            r.advantageTokens.removeAll(keepingCapacity: true)
        }
    }
}

/// A growable run of plain values (numbers) one writer appends to and readers copy ranges out of.
struct FlatBuffer<T> {
    private var base: UnsafeMutablePointer<T>?
    private var count = 0
    private var capacity = 0

    /// The memory held.
    var bytes: Int { capacity * MemoryLayout<T>.stride }

    /// Appends `values`; where they are.
    @inline(__always) @discardableResult
    mutating func append(_ values: [T]) -> Range<Int> {
        let start = count
        values.withUnsafeBufferPointer { src in
            guard let from = src.baseAddress, src.count > 0 else { return }
            if count + src.count > capacity {
                let grown = Swift.max(2 * capacity, count + src.count, 256)
                let fresh = UnsafeMutablePointer<T>.allocate(capacity: grown)
                if let base {
                    fresh.moveInitialize(from: base, count: count)
                    base.deallocate()
                }
                (base, capacity) = (fresh, grown)
            }
            guard let storage = base else { return }  // allocated just above
            (storage + count).initialize(from: from, count: src.count)
            count += src.count
        }
        return start..<count
    }

    /// Sets `array` to the values at `range`, in its own storage when the count is the same (as the
    /// decoder stores a line's arrays).
    @inline(__always)
    func load(_ range: Range<Int>, into array: inout [T]) {
        guard let base else {
            array.removeAll(keepingCapacity: true)
            return
        }
        let from = base + range.lowerBound
        if array.count == range.count {
            array.withUnsafeMutableBufferPointer { $0.baseAddress?.update(from: from, count: range.count) }
        } else {
            array = Array(UnsafeBufferPointer(start: from, count: range.count))
        }
    }

    /// Frees the storage (the values are plain numbers: nothing to deinitialize).
    mutating func free() {
        base?.deallocate()
        base = nil
    }
}

extension Rollout {
    /// Whether decoding the line ``encode(into:as:core:)`` writes for this record as `schema` gives
    /// it back instead of an error: the checks of ``decode(_:as:)`` (tokens 0-9, as many finite
    /// log-probabilities <= 0, a reward that agrees with the verdict, advantages within
    /// +-``maxAdvantage``, one token advantage per token or none).
    @inline(__always)
    func decodesAsWritten(as schema: Schema) -> Bool {
        guard tokens.count == logp.count else { return false }
        for t in tokens where UInt(bitPattern: t) > 9 { return false }
        for v in logp where !(v <= 0 && v >= -Double.greatestFiniteMagnitude) { return false }  // NaN fails both
        if schema != .rollout && reward != verdict.reward { return false }
        if schema == .weighted {
            let limit = Rollout.maxAdvantage
            guard advantage >= -limit && advantage <= limit,
                  advantageTokens.isEmpty || advantageTokens.count == tokens.count else { return false }
            for v in advantageTokens where !(v >= -limit && v <= limit) { return false }
        }
        return true
    }
}

extension ShardWriter {
    /// Encodes `record` as one line of `schema` (copying `core`, the fields `run` through `logp`
    /// of the line it was decoded from, when given) and ends it. While the shard may still be
    /// handed to the write-behind queue whole, the record is kept for the part that reads it next,
    /// unless one of its records would not decode (then none of them is: the reader decodes).
    func write(_ record: Rollout, as schema: Schema, core: RolloutCore? = nil) throws {
        let range = record.encode(into: &json, as: schema, core: core)
        if writeBehind != nil, !wroteFrame, keepsRollouts {
            if record.decodesAsWritten(as: schema) {
                if handed == nil { handed = HandedRollouts(schema: schema) }
                handed?.append(record, core: range)
            } else {
                (handed, keepsRollouts) = (nil, false)
            }
        }
        try endRecord()
    }
}
