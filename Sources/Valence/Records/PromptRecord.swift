/// One task prompt "a+b=" with its reference answer, as stored in `task/{train,test}.jsonl.zst`.
public struct PromptRecord: Sendable, Equatable {
    public var task: Identifier
    public var split: String
    public var id: Int
    public var a: Int
    public var b: Int
    public var text: String
    public var answer: String

    public init(task: Identifier, split: String, id: Int, a: Int, b: Int, text: String, answer: String) {
        self.task = task
        self.split = split
        self.id = id
        self.a = a
        self.b = b
        self.text = text
        self.answer = answer
    }

    public func encode(into w: inout JSONWriter) {
        w.beginObject()
        w.key("schema"); w.string(Schema.prompt.rawValue)
        w.key("task"); w.string(task.description)
        w.key("split"); w.string(split)
        w.key("id"); w.int(id)
        w.key("a"); w.int(a)
        w.key("b"); w.int(b)
        w.key("text"); w.string(text)
        w.key("answer"); w.string(answer)
        w.endObject()
    }

    public static func decode(_ line: UnsafeBufferPointer<UInt8>) throws -> PromptRecord {
        var s = JSONScanner(line)
        var seen = FieldSet()
        var r = PromptRecord(task: Identifier(0), split: "", id: 0, a: 0, b: 0, text: "", answer: "")
        try s.beginObject()
        while let key = try s.nextKey() {
            if key == "schema" { try seen.insert(1); try Schema.check(try s.stringBytes(), expected: .prompt) }
            else if key == "task" { try seen.insert(2); r.task = try Identifier.parse(try s.stringBytes()) }
            else if key == "split" { try seen.insert(4); r.split = try s.string() }
            else if key == "id" { try seen.insert(8); r.id = try s.intField("id") }
            else if key == "a" { try seen.insert(16); r.a = try s.intField("a") }
            else if key == "b" { try seen.insert(32); r.b = try s.intField("b") }
            else if key == "text" { try seen.insert(64); r.text = try s.string() }
            else if key == "answer" { try seen.insert(128); r.answer = try s.string() }
            else { try s.skipValue() }
        }
        try s.finish()
        try seen.require(1, "schema")
        try seen.require(2, "task")
        try seen.require(4, "split")
        try seen.require(8, "id")
        try seen.require(16, "a")
        try seen.require(32, "b")
        try seen.require(64, "text")
        try seen.require(128, "answer")
        return r
    }
}
