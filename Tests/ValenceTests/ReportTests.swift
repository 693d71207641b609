import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Valence

/// Synthetic comparisons: the figures' structure and the findings' dependence on the numbers.
@Suite struct ReportTests {
    /// A finished run with a base line (step 0) and `steps` training lines whose final Pass@k is `final`.
    static func run(_ objective: Objective, window: Int = 0, seed: UInt64 = 1, base: [Double], final: [Double],
                    baseEntropy: Double = 1.0, finalEntropy: Double, steps: Int = 3, sampled: [Double]? = nil) -> ComparisonReport.Run {
        var config = RunConfig()
        config.objective = objective
        config.window = window
        config.seed = seed
        config.steps = steps
        var lines: [MetricsLine] = []
        for step in 0...steps {
            let t = Double(step) / Double(steps)
            let pass = zip(base, final).map { $0 + ($1 - $0) * t }
            var fields: [(String, JSONValue)] = [("batch_correct", .double(0.1 + 0.01 * Double(step))),
                                                 ("grad_norm_psr", .double(0.5)), ("grad_norm_nsr", .double(0.7)),
                                                 ("entropy_delta", .double((finalEntropy - baseEntropy) / Double(steps))),
                                                 ("redist_corr", .double(objective == .nsr ? 0.9 : 0.4)),
                                                 ("redist_tv", .double(0.05)), ("redist_to_correct", .double(0.3)),
                                                 ("redist_prior_correct", .double(0.28))]
            if step == steps, let sampled {
                fields.append(("sampled_n", .int(1024)))
                for (k, v) in zip(PassAtK.ks, sampled) { fields.append(("sampled_pass@\(k)", .double(v))) }
            }
            lines.append(MetricsLine(step: step, objective: objective.rawValue, window: window, seed: Int(seed), split: "test",
                                     passAtK: pass, entropy: baseEntropy + (finalEntropy - baseEntropy) * t, greedy: 0.1,
                                     fields: .object(fields)))
        }
        return ComparisonReport.Run(path: "runs/w\(window)/seed\(seed)/\(objective.rawValue)", config: config, lines: lines)
    }

    static let base = [0.10, 0.19, 0.34, 0.56, 0.78, 0.92, 0.97, 0.99, 0.995]

    static func report(psrFinal: [Double], nsrFinal: [Double], nsrEntropy: Double = 0.98) -> ComparisonReport {
        var runs: [ComparisonReport.Run] = []
        for w in [0, 1] {
            runs.append(run(.psr, window: w, base: base, final: psrFinal, finalEntropy: 0.6))
            runs.append(run(.nsr, window: w, base: base, final: nsrFinal, finalEntropy: nsrEntropy))
            runs.append(run(.wReinforce, window: w, base: base, final: base.map { $0 - 0.005 }, finalEntropy: 0.9))
        }
        return ComparisonReport(runs: runs)
    }

    static let psrFinal = [0.20, 0.33, 0.50, 0.64, 0.76, 0.85, 0.90, 0.93, 0.95]
    static let nsrFinal = [0.13, 0.24, 0.40, 0.61, 0.81, 0.94, 0.98, 0.995, 0.999]

    /// Parses SVG text with Foundation's XMLParser and collects, per panel, the series names of its paths.
    final class SVGScan: NSObject, XMLParserDelegate {
        var panels: [(title: String, series: [(name: String, stroke: String, dashed: Bool)])] = []
        var depthInPanel = 0
        var legendLines: [String] = []
        var inLegend = false
        var elementCount = 0

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
            elementCount += 1
            if name == "g", let title = attributes["data-panel"] { panels.append((title, [])); depthInPanel = 1; return }
            if name == "g", attributes["data-legend"] != nil { inLegend = true; return }
            if name == "g" && depthInPanel > 0 { depthInPanel += 1 }
            if name == "path", depthInPanel > 0, let series = attributes["data-series"], !panels.isEmpty {
                panels[panels.count - 1].series.append((series, attributes["stroke"] ?? "", attributes["stroke-dasharray"] != nil))
            }
            if name == "line", inLegend { legendLines.append(attributes["stroke"] ?? "") }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard name == "g" else { return }
            if depthInPanel > 0 { depthInPanel -= 1 } else if inLegend { inLegend = false }
        }

        static func scan(_ svg: String) throws -> SVGScan {
            let parser = XMLParser(data: Data(svg.utf8))
            let scan = SVGScan()
            parser.delegate = scan
            let ok = parser.parse()
            if !ok { throw parser.parserError ?? CocoaError(.coderReadCorrupt) }
            return scan
        }
    }

    @Test func passkFigureIsWellFormedWithOnePathPerObjectivePerPanel() throws {
        let report = Self.report(psrFinal: Self.psrFinal, nsrFinal: Self.nsrFinal)
        let scan = try SVGScan.scan(report.passkFigure)
        // One panel per regime, plus one difference-from-base panel per regime.
        #expect(scan.panels.count == 4)
        for panel in scan.panels {
            #expect(panel.series.map(\.name) .sorted() == ["base", "nsr", "psr", "w-reinforce"], "panel \(panel.title)")
            for s in panel.series {
                #expect(s.stroke == ObjectivePalette.color(for: s.name))
                #expect(s.dashed == (s.name == "base"))
            }
        }
        #expect(scan.panels.contains { $0.title.contains("WINDOW=0") })
        #expect(scan.panels.contains { $0.title.contains("WINDOW=1") })
        #expect(scan.legendLines.count == 4)
        let text = report.passkFigure
        #expect(text.contains("k (log2 scale)"))
        #expect(text.contains(">256</text>"))
    }

    @Test func trainingAndDiagnosticsFiguresHaveOnePathPerObjectivePerPanel() throws {
        let report = Self.report(psrFinal: Self.psrFinal, nsrFinal: Self.nsrFinal)
        for svg in [report.trainingFigure, report.diagnosticsFigure] {
            let scan = try SVGScan.scan(svg)
            #expect(scan.panels.count == 8)  // 4 metrics x 2 regimes
            for panel in scan.panels {
                #expect(panel.series.map(\.name) == ["psr", "nsr", "w-reinforce"], "panel \(panel.title)")
            }
        }
        #expect(report.trainingFigure.contains("Batch fraction correct"))
        #expect(report.trainingFigure.contains("Test Pass@256"))
    }

    @Test func coloursAreStablePerObjective() throws {
        #expect(ObjectivePalette.color(for: "psr") == "#d62728")
        #expect(ObjectivePalette.color(for: "nsr") == "#1f77b4")
        let named = ["base", "psr", "nsr", "w-reinforce", "reinforce", "grpo", "rloo", "dr-grpo", "topr", "ppo"]
        let colours = named.map(ObjectivePalette.color(for:))
        #expect(Set(colours).count == named.count, "every named objective has its own colour")
        // An unknown objective gets the same colour every time, whatever else is drawn.
        #expect(ObjectivePalette.color(for: "my-objective") == ObjectivePalette.color(for: "my-objective"))
        // Colours do not depend on which runs a figure contains or in what order.
        let a = Self.report(psrFinal: Self.psrFinal, nsrFinal: Self.nsrFinal)
        var b = a
        b.runs.reverse()
        let strokes = { (r: ComparisonReport) throws -> [String: String] in
            var out: [String: String] = [:]
            for p in try SVGScan.scan(r.passkFigure).panels { for s in p.series { out[s.name] = s.stroke } }
            return out
        }
        let sa = try strokes(a), sb = try strokes(b)
        #expect(sa == sb)
    }

    @Test func svgEscapesText() throws {
        var doc = SVGDocument(width: 10, height: 10)
        doc.text("a < b & \"c\"", x: 1, y: 1)
        _ = try SVGScan.scan(doc.rendered)
        #expect(doc.rendered.contains("a &lt; b &amp; &quot;c&quot;"))
    }

    @Test func findingsFollowTheNumbers() {
        let one = Self.report(psrFinal: Self.psrFinal, nsrFinal: Self.nsrFinal).findings(window: 0)
        #expect(one.contains { $0.hasPrefix("Best Pass@1: psr with 0.2000") })
        #expect(one.contains { $0.hasPrefix("Best Pass@256: nsr with 0.9990") })
        #expect(one.contains { $0.hasPrefix("nsr keeps entropy closest to the base policy") })
        #expect(one.contains { $0.hasPrefix("psr falls below the base policy from k = 16 on") })
        #expect(one.contains { $0.contains("Mass redistribution under nsr") && $0.contains("r = 0.900") })

        // Swap the roles: now nsr wins Pass@1 and psr never drops below base; entropy ranking flips.
        let better = Self.base.map { min(1, $0 + 0.02) }
        let two = Self.report(psrFinal: better, nsrFinal: [0.25, 0.3, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99], nsrEntropy: 0.2).findings(window: 0)
        #expect(two != one)
        #expect(two.contains { $0.hasPrefix("Best Pass@1: nsr with 0.2500") })
        #expect(two.contains { $0.hasPrefix("Best Pass@256: psr") })
        #expect(two.contains { $0.hasPrefix("w-reinforce keeps entropy closest") })
        #expect(two.contains { $0.hasPrefix("psr stays at or above the base policy at every k") })
    }

    @Test func seedsGiveMeanAndStandardError() {
        var runs: [ComparisonReport.Run] = []
        for (seed, p1) in [(UInt64(1), 0.2), (2, 0.3), (3, 0.4)] {
            var final = Self.psrFinal
            final[0] = p1
            runs.append(Self.run(.psr, seed: seed, base: Self.base, final: final, finalEntropy: 0.6))
            runs.append(Self.run(.nsr, seed: seed, base: Self.base, final: Self.nsrFinal, finalEntropy: 0.9))
        }
        let report = ComparisonReport(runs: runs)
        let psr = report.summary(window: 0, label: "psr")
        #expect(psr?.seeds == 3)
        #expect(abs((psr?.passAtK[0].mean ?? 0) - 0.3) < 1e-12)
        // sample sd of (0.2, 0.3, 0.4) is 0.1; SE = 0.1 / sqrt(3)
        #expect(abs((psr?.passAtK[0].se ?? 0) - 0.1 / 3.0.squareRoot()) < 1e-12)
        #expect(report.summary(window: 0, label: "base")?.seeds == 3)
        #expect(report.markdown.contains("0.3000 ± 0.0577"))
        #expect(report.markdown.contains("Seeds used: 1, 2, 3."))
        #expect(report.summaryCSV.contains("0,psr,3,1,0.300000,0.057735"))
    }

    @Test func markdownEmbedsFiguresConfigAndSampledGap() {
        var runs = Self.report(psrFinal: Self.psrFinal, nsrFinal: Self.nsrFinal).runs
        runs[1] = Self.run(.nsr, base: Self.base, final: Self.nsrFinal, finalEntropy: 0.98,
                           sampled: Self.nsrFinal.map { $0 - 0.002 })
        let md = ComparisonReport(runs: runs).markdown
        #expect(md.contains("![Pass@k by objective, one panel per regime](passk.svg)"))
        #expect(md.contains("](training.svg)"))
        #expect(md.contains("| eval_temperature | 1.0 |"))
        #expect(md.contains("| objective | psr, nsr, w-reinforce |"))
        #expect(md.contains("## Sampled versus exact Pass@k"))
        #expect(md.contains("| nsr | 0.1300 | 0.1280 | -0.0020 |"))
        #expect(md.contains("agrees with the exact value within 0.0020"))
        #expect(md.contains("## Mass redistribution"))
    }

    @Test func niceTicksCoverTheDataAndLabelsDiffer() {
        let ticks = NiceScale.ticks(low: 0.975, high: 0.9993)
        #expect((ticks.first ?? 1) <= 0.975 && (ticks.last ?? 0) >= 0.9993)
        let step = ticks[1] - ticks[0]
        let labels = ticks.map { NiceScale.label($0, step: step) }
        #expect(Set(labels).count == labels.count)
        #expect(NiceScale.ticks(low: 0, high: 0.89).last ?? 0 >= 0.89)
    }
}
