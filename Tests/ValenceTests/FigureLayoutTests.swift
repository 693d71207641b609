import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Valence

/// Every label of every figure the comparison report writes lies inside the canvas, and curves
/// that coincide are drawn so that both show and are named.
@Suite struct FigureLayoutTests {
    /// One `<text>` element: position, font, anchor, rotation and content.
    struct TextBox {
        var x = 0.0, y = 0.0, size = 12.0, bold = false, anchor = "start", rotate = 0.0, text = ""

        /// The estimated box: width from the character count (0.64 em per glyph, 0.7 bold, generous
        /// for DejaVu Sans), ascent 0.8 em above the baseline, descent 0.25 em below.
        var extent: (minX: Double, maxX: Double, minY: Double, maxY: Double) {
            let w = Double(text.count) * size * (bold ? 0.7 : 0.64)
            let (a, b): (Double, Double) = anchor == "middle" ? (-w / 2, w / 2) : anchor == "end" ? (-w, 0) : (0, w)
            if rotate == -90 || rotate == 270 {
                // Rotated about (x, y): the text runs upwards, its baseline to the right of x.
                return (x - 0.8 * size, x + 0.25 * size, y - b, y - a)
            }
            return (x + a, x + b, y - 0.8 * size, y + 0.25 * size)
        }
    }

    final class TextScan: NSObject, XMLParserDelegate {
        var width = 0.0, height = 0.0
        var texts: [TextBox] = []
        var current: TextBox?
        var dashedSeries: Set<String> = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes a: [String: String]) {
            if name == "svg" {
                width = Double(a["width"] ?? "") ?? 0
                height = Double(a["height"] ?? "") ?? 0
            }
            if name == "path", let s = a["data-series"], a["stroke-dasharray"] != nil { dashedSeries.insert(s) }
            guard name == "text" else { return }
            var box = TextBox()
            box.x = Double(a["x"] ?? "") ?? .nan
            box.y = Double(a["y"] ?? "") ?? .nan
            box.size = Double(a["font-size"] ?? "") ?? 16
            box.bold = a["font-weight"] == "bold"
            box.anchor = a["text-anchor"] ?? "start"
            if let t = a["transform"], t.hasPrefix("rotate("),
               let angle = Double(t.dropFirst(7).split(separator: " ").first ?? "") { box.rotate = angle }
            current = box
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { current?.text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text", let c = current { texts.append(c); current = nil }
        }

        static func scan(_ svg: String) throws -> TextScan {
            let parser = XMLParser(data: Data(svg.utf8))
            let scan = TextScan()
            parser.delegate = scan
            if !parser.parse() { throw parser.parserError ?? CocoaError(.coderReadCorrupt) }
            return scan
        }

        /// The texts whose estimated box leaves the canvas.
        var outside: [TextBox] {
            texts.filter { t in
                let e = t.extent
                return !(e.minX >= 0 && e.maxX <= width && e.minY >= 0 && e.maxY <= height)
            }
        }
    }

    /// Every objective in both regimes, `seeds` seeds; rloo and dr-grpo end at the same Pass@k and
    /// entropy, and so do topr and reinforce (as under Adam's scale invariance).
    static func fullReport(seeds: [UInt64]) -> ComparisonReport {
        let base = ReportTests.base
        var runs: [ComparisonReport.Run] = []
        for w in [0, 1] {
            for seed in seeds {
                for (i, o) in Objective.allCases.enumerated() {
                    let twin = [Objective.rloo: Objective.drGrpo, .reinforce: .topr].first { $0.value == o }?.key ?? o
                    let j = Objective.allCases.firstIndex(of: twin) ?? i
                    let final = base.map { min(1, $0 + 0.012 * Double(j) - 0.05) }
                    runs.append(ReportTests.run(o, window: w, seed: seed, base: base, final: final,
                                                finalEntropy: 0.6 + 0.04 * Double(j), steps: 20))
                }
            }
        }
        return ComparisonReport(runs: runs)
    }

    @Test(arguments: [[UInt64(1)], [1, 2, 3]])
    func everyTextLiesInsideTheCanvas(seeds: [UInt64]) throws {
        let dir = TestSupport.temporaryDirectory("valence-figures")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.fullReport(seeds: seeds).write(to: dir)
        for file in ComparisonReport.figureFiles {
            let scan = try TextScan.scan(try String(contentsOfFile: "\(dir)/\(file)", encoding: .utf8))
            #expect(scan.width > 0 && scan.height > 0, "\(file)")
            #expect(scan.texts.count > 20, "\(file)")
            for t in scan.outside {
                Issue.record("\(file): text \"\(t.text)\" at (\(t.x), \(t.y)) size \(t.size) leaves the \(scan.width)x\(scan.height) canvas: \(t.extent)")
            }
        }
    }

    @Test func theCheckSeesTextOffTheCanvas() throws {
        let svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">
            <text x="190" y="50" font-size="12" text-anchor="start">legend</text>
            <text x="100" y="50" font-size="12" text-anchor="middle">fits</text>
            <text x="16" y="50" font-size="12" text-anchor="middle" transform="rotate(-90 16 50)">a long rotated axis label</text>
            </svg>
            """
        let scan = try TextScan.scan(svg)
        #expect(scan.outside.map(\.text) == ["legend", "a long rotated axis label"])
    }

    @Test func coincidingCurvesAreDashedAndNamed() throws {
        let report = Self.fullReport(seeds: [1])
        let passk = report.passkFigure
        let scan = try TextScan.scan(passk)
        let texts = scan.texts.map(\.text)
        #expect(texts.contains("dr-grpo (= rloo)"))
        #expect(texts.contains("topr (= reinforce)"))
        #expect(texts.contains("psr"))
        #expect(texts.contains { $0.contains("rloo = dr-grpo") })
        // The later of two coinciding curves is dashed over the first; distinct curves stay solid.
        #expect(scan.dashedSeries == ["base", "dr-grpo", "topr"])
        for svg in [report.trainingFigure, report.diagnosticsFigure] {
            #expect(try TextScan.scan(svg).outside.isEmpty)
        }
    }

    @Test func coincidenceNeedsEveryPointWithinTolerance() {
        let a = PlotSeries(name: "a", points: [(0, 0.5), (1, 0.6), (2, 0.7)])
        let b = PlotSeries(name: "b", points: [(0, 0.5), (1, 0.6 + 0.004), (2, 0.7)])
        let c = PlotSeries(name: "c", points: [(0, 0.5), (1, 0.6 + 0.006), (2, 0.7)])
        let d = PlotSeries(name: "d", points: [(0, 0.5), (1, 0.6)])
        #expect(CoincidingSeries.leaders([a, b, c, d], ySpan: 1) == ["b": "a"])
        #expect(CoincidingSeries.leaders([a, b, c, d], ySpan: 2) == ["b": "a", "c": "a"])
        #expect(CoincidingSeries.leaders([c, a, b], ySpan: 1) == ["b": "c"])
    }

    @Test func markersDifferPerObjective() {
        let names = ObjectivePalette.fixed.map(\.name)
        #expect(Set(names.map { ObjectivePalette.marker(for: $0) }).count == names.count)
    }
}
