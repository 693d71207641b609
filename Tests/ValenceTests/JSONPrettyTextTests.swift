import Testing
@testable import Valence

/// ``JSONValue/prettyText(indent:)``: the layout manifests and config.json are written in.
@Suite struct JSONPrettyTextTests {
    @Test func layout() {
        let value = JSONValue.object([
            ("stage", .string("split")),
            ("shards", .int(2)),
            ("empty", .array([])),
            ("none", .object([])),
            ("ks", .array([.int(1), .double(0.5), .null, .bool(true), .string("a\"b")])),
            ("outputs", .array([.object([("path", .string("x/y")), ("bytes", .int(10))]), .array([.int(1)])])),
        ])
        let expected = """
        {
          "stage": "split",
          "shards": 2,
          "empty": [],
          "none": {},
          "ks": [1, 0.5, null, true, "a\\"b"],
          "outputs": [
            {
              "path": "x/y",
              "bytes": 10
            },
            [1]
          ]
        }
        """
        #expect(value.prettyText() == expected)
        #expect(JSONValue.int(3).prettyText() == "3")
        #expect(JSONValue.array([.object([("a", .int(1))])]).prettyText(indent: "  ") == "[\n    {\n      \"a\": 1\n    }\n  ]")
    }
}
