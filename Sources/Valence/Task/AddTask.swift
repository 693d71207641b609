/// The `add` task (docs/model.md 2): prompts "a+b=" with a, b in [0, 10^nd), answers as L = nd + 1 digits.
public struct AddTask: Sendable, Hashable {
    /// nd, the number of operand digits.
    public let digits: Int

    /// The largest nd Valence accepts: answers and pair codes must fit comfortably in an Int and
    /// the split must be drawable.
    public static let maxDigits = 6

    public init(digits: Int) throws {
        guard (1...AddTask.maxDigits).contains(digits) else {
            throw ValenceError.config(detail: "digits (nd) = \(digits) is out of range 1...\(AddTask.maxDigits)")
        }
        self.digits = digits
    }

    /// L, the response length in tokens.
    public var length: Int { digits + 1 }

    /// 10^nd, the number of values an operand can take.
    public var operandCount: Int { power10(digits) }

    public func promptText(a: Int, b: Int) -> String { "\(a)+\(b)=" }

    /// The reference answer, zero-padded to L digits: 12 + 30 -> "0042".
    public func answerText(a: Int, b: Int) -> String {
        let s = String(a + b)
        return String(repeating: "0", count: length - s.count) + s
    }

    /// Digit j (MSB first, 0-based) of `value` written with L digits.
    @inline(__always) public func digit(_ value: Int, at j: Int) -> Int {
        (value / power10(length - 1 - j)) % 10
    }

    /// Draws the disjoint train and test prompt sets (docs/model.md 2) without replacement from all
    /// 10^(2 nd) pairs, in draw order: the first `train` draws are the train set.
    public func split(seed: UInt64, train: Int, test: Int) throws -> (train: [(a: Int, b: Int)], test: [(a: Int, b: Int)]) {
        let n = operandCount
        let total = n * n
        let wanted = train + test
        guard train >= 1, test >= 1, wanted <= total else {
            throw ValenceError.config(detail: "train (\(train)) + test (\(test)) prompts must be >= 1 each and at most \(total) pairs for nd = \(digits)")
        }
        var rng = CounterRNG(seed: seed, purpose: .split)
        var codes: [Int] = []
        codes.reserveCapacity(wanted)
        if wanted * 2 <= total {
            var seen = Set<Int>(minimumCapacity: wanted)
            while codes.count < wanted {
                let c = rng.below(total)
                if seen.insert(c).inserted { codes.append(c) }
            }
        } else {
            // Dense case: a partial Fisher-Yates shuffle of every pair code.
            var all = Array(0..<total)
            for i in 0..<wanted {
                let j = i + rng.below(total - i)
                all.swapAt(i, j)
            }
            codes = Array(all[0..<wanted])
        }
        let pairs = codes.map { (a: $0 / n, b: $0 % n) }
        return (Array(pairs[0..<train]), Array(pairs[train...]))
    }
}

@inline(__always) func power10(_ k: Int) -> Int {
    var p = 1
    for _ in 0..<k { p *= 10 }
    return p
}
