/// Checks a response against a+b (docs/model.md 2).
///
/// The response must be exactly L ASCII digits, else `malformed` (this includes Unicode digits
/// such as "١٢٣٤", signs and whitespace); it is `correct` iff its value equals a + b.
public struct Verifier: Sendable {
    public let task: AddTask

    public init(task: AddTask) { self.task = task }

    public func verdict(response: some Collection<UInt8>, a: Int, b: Int) -> Verdict {
        verdict(response: response, answer: a + b)
    }

    /// Judges a response against a reference answer value (the task file's `answer`).
    public func verdict(response: some Collection<UInt8>, answer: Int) -> Verdict {
        guard response.count == task.length else { return .malformed }
        var value = 0
        for byte in response {
            let d = byte &- 48
            guard d <= 9 else { return .malformed }
            value = value * 10 + Int(d)
        }
        return value == answer ? .correct : .wrong
    }

    public func verdict(response: String, a: Int, b: Int) -> Verdict {
        verdict(response: Array(response.utf8), a: a, b: b)
    }
}
