import Testing
@testable import Valence

/// A prompt shard is read once per process for both of its readings: generate's operands and
/// verify's answers. An invalid answer is still verify's error (at its line) and never generate's.
@Suite struct TaskPromptsTests {
    /// A train shard of `count` prompts of this config's task; the answer of prompt `badAnswer`
    /// (when given) is written with a digit too few.
    static func shard(_ config: RunConfig, count: Int, badAnswer: Int? = nil) throws -> String {
        let task = try config.task
        let path = TestSupport.temporaryDirectory() + "/train.jsonl.zst"
        let writer = try ShardWriter(path: path)
        for id in 0..<count {
            let (a, b) = (id * 7 % task.operandCount, id * 13 % task.operandCount)
            var answer = task.answerText(a: a, b: b)
            if id == badAnswer { answer.removeLast() }
            PromptRecord(task: config.taskID, split: "train", id: id, a: a, b: b, text: task.promptText(a: a, b: b),
                         answer: answer).encode(into: &writer.json)
            try writer.endRecord()
        }
        try writer.commit()
        return path
    }

    @Test func oneReadingGivesBothOperandsAndAnswers() throws {
        let config = RunConfig()
        let path = try Self.shard(config, count: 50)
        for withAnswers in [false, true] {
            let (operands, answers) = try TaskPrompts.parse(path, split: "train", withAnswers: withAnswers, config: config)
            let full = try #require(answers)
            #expect(operands.count == 50 && operands.answers.isEmpty)
            #expect(full.a == operands.a && full.b == operands.b && full.digest == operands.digest)
            #expect(full.answers == (0..<50).map { id in id * 7 % 1000 + id * 13 % 1000 })
        }
    }

    @Test func anInvalidAnswerIsOnlyTheAnswersReadingsError() throws {
        let config = RunConfig()
        let path = try Self.shard(config, count: 50, badAnswer: 17)
        let (operands, answers) = try TaskPrompts.parse(path, split: "train", withAnswers: false, config: config)
        #expect(answers == nil)
        #expect(operands.count == 50)
        #expect(throws: ValenceError.self) {
            _ = try TaskPrompts.parse(path, split: "train", withAnswers: true, config: config)
        }
        do {
            _ = try TaskPrompts.parse(path, split: "train", withAnswers: true, config: config)
        } catch let ValenceError.badData(at, line, detail) {
            #expect(at == path)
            #expect(line == 18)
            #expect(detail.contains("is not 4 digits"), "\(detail)")
        }
    }
}
