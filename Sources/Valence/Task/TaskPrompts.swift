/// A task split loaded from `task/{train,test}.jsonl.zst`, indexed by prompt id.
public struct TaskPrompts: Sendable {
    public var a: [Int] = []
    public var b: [Int] = []
    /// The reference answers' values (parsed from the `answer` text).
    public var answers: [Int] = []
    public var digest: UInt64 = 0

    public var count: Int { a.count }
    public var pairs: [(a: Int, b: Int)] { (0..<count).map { (a[$0], b[$0]) } }

    /// Reads and checks one split: records in id order, of this task, with operands in range.
    /// `withAnswers: false` is how generate reads it: it never looks at the answer.
    public static func load(_ env: StageEnvironment, split: String, withAnswers: Bool) throws -> TaskPrompts {
        let rel = RunLayout.taskShard(split)
        // Parsed once per process while its bytes are unchanged (a few calls a step).
        let manifest = try env.files.value(env.layout.taskManifest) { try Manifest.read(env.layout.taskManifest) }
        guard let output = manifest.output(rel) else {
            throw ValenceError.badData(path: env.layout.taskManifest, line: nil, detail: "does not list \(rel)")
        }
        let path = env.layout.path(rel)
        let prompts = try env.files.value(path, variant: withAnswers ? "answers" : "operands") {
            // One reading serves both: the other one is recorded beside it (generate reads the
            // operands and verify the answers of the same file, each step).
            let (operands, answers) = try parse(path, split: split, withAnswers: withAnswers, config: env.config)
            if withAnswers {
                env.files.insert(operands, path: path, variant: "operands", digest: operands.digest)
            } else if let answers {
                env.files.insert(answers, path: path, variant: "answers", digest: answers.digest)
            }
            return withAnswers ? (answers ?? operands) : operands
        }
        guard prompts.count == output.records else {
            throw ValenceError.badData(path: path, line: nil, detail: "holds \(prompts.count) prompts but its manifest says \(output.records)")
        }
        return prompts
    }

    /// Parses and checks one split's shard (see ``load(_:split:withAnswers:)``): its operands, and
    /// the same with the answers when every answer is valid. With `withAnswers` an invalid answer
    /// is an error (at its line); without, it only leaves the answers out.
    static func parse(_ path: String, split: String, withAnswers: Bool, config: RunConfig) throws -> (operands: TaskPrompts, answers: TaskPrompts?) {
        let task = try config.task
        let limit = task.operandCount
        var prompts = TaskPrompts()
        var answersValid = true
        let taskID = config.taskID
        let result = try ShardReader.forEachLine(path) { line, _ in
            let r = try PromptRecord.decode(line)
            guard r.task == taskID else { throw RecordError("prompt belongs to task \(r.task), this run's task is \(taskID)") }
            guard r.split == split else { throw RecordError("prompt is from split \"\(r.split)\", expected \"\(split)\"") }
            guard r.id == prompts.count else { throw RecordError("prompt id \(r.id) out of order: expected \(prompts.count)") }
            guard (0..<limit).contains(r.a), (0..<limit).contains(r.b) else {
                throw RecordError("operands \(r.a), \(r.b) are outside [0, \(limit))")
            }
            prompts.a.append(r.a)
            prompts.b.append(r.b)
            guard answersValid else { return }
            guard r.answer.utf8.count == task.length, let value = Int(r.answer), r.answer.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                if withAnswers { throw RecordError("answer \"\(r.answer)\" is not \(task.length) digits") }
                answersValid = false
                return
            }
            prompts.answers.append(value)
        }
        prompts.digest = result.digest
        var operands = prompts
        operands.answers = []
        return (operands, answersValid ? prompts : nil)
    }
}

/// A step's prompt draw (docs/model.md 5.1): B distinct train prompt ids from stream (seed, batch, step),
/// sorted so that every stage sees one canonical order.
public enum BatchDraw {
    public static func prompts(seed: UInt64, step: Int, trainCount: Int, batch: Int) -> [Int] {
        var rng = CounterRNG(seed: seed, purpose: .batch, UInt64(step))
        var ids = Array(0..<trainCount)
        for i in 0..<batch {
            let j = i + rng.below(trainCount - i)
            ids.swapAt(i, j)
        }
        return ids[0..<batch].sorted()
    }

    /// The contiguous slice of the sorted draw that shard `shard` of `shards` handles.
    public static func slice(_ ids: [Int], shard: Int, shards: Int) -> ArraySlice<Int> {
        let lo = ids.count * shard / shards
        let hi = ids.count * (shard + 1) / shards
        return ids[lo..<hi]
    }
}
