#if canImport(Glibc)
import Glibc
#endif

/// The colour and dash of each objective in every figure Valence draws.
///
/// Colours are keyed by the objective's name, not by its position in a run list, so the same
/// objective looks the same in the Pass@k figure, the training curves and any later report, and
/// adding an objective never recolours the others. Names not in the table get a colour from a
/// fallback list chosen by a stable hash of the name.
public enum ObjectivePalette {
    /// The base policy's colour, then each registered objective's own (declared in the registry).
    public static let fixed: [(name: String, color: String)] = [("base", "#333333")] + Objective.all.map { ($0.rawValue, $0.color) }

    static let fallback = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354"]

    public static func color(for name: String) -> String {
        if let c = fixed.first(where: { $0.name == name }) { return c.color }
        var d = Digest()
        d.update(name)
        return fallback[Int(d.value % UInt64(fallback.count))]
    }

    /// The base policy is drawn dashed; every trained objective solid.
    public static func isDashed(_ name: String) -> Bool { name == "base" }
}

/// A minimal SVG 1.1 writer: just the elements Valence's figures need, with escaped text.
public struct SVGDocument: Sendable {
    public let width: Double
    public let height: Double
    private var body = ""

    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    public static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func n(_ x: Double) -> String { formatNumber(x, decimals: 2) }

    public mutating func raw(_ text: String) { body += text + "\n" }

    public mutating func open(group attributes: String) { body += "<g \(attributes)>\n" }
    public mutating func close() { body += "</g>\n" }

    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String = "none") {
        body += "<rect x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(width))\" height=\"\(Self.n(height))\" fill=\"\(fill)\" stroke=\"\(stroke)\"/>\n"
    }

    public mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1, dash: String? = nil) {
        body += "<line x1=\"\(Self.n(x1))\" y1=\"\(Self.n(y1))\" x2=\"\(Self.n(x2))\" y2=\"\(Self.n(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(Self.n(width))\""
        if let dash { body += " stroke-dasharray=\"\(dash)\"" }
        body += "/>\n"
    }

    public mutating func circle(cx: Double, cy: Double, r: Double, fill: String) {
        body += "<circle cx=\"\(Self.n(cx))\" cy=\"\(Self.n(cy))\" r=\"\(Self.n(r))\" fill=\"\(fill)\"/>\n"
    }

    /// A polyline as a `<path>`; `series` names it (data-series) so tools and tests can find it.
    public mutating func path(points: [(Double, Double)], stroke: String, width: Double, dash: String?, series: String) {
        guard let first = points.first else { return }
        var d = "M\(Self.n(first.0)),\(Self.n(first.1))"
        for p in points.dropFirst() { d += " L\(Self.n(p.0)),\(Self.n(p.1))" }
        body += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(Self.n(width))\" stroke-linejoin=\"round\""
        if let dash { body += " stroke-dasharray=\"\(dash)\"" }
        body += " data-series=\"\(Self.escape(series))\"/>\n"
    }

    public enum Anchor: String, Sendable { case start, middle, end }

    public mutating func text(_ text: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start,
                              weight: String = "normal", fill: String = "#222222", rotate: Double? = nil) {
        body += "<text x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" font-size=\"\(Self.n(size))\" text-anchor=\"\(anchor.rawValue)\""
        if weight != "normal" { body += " font-weight=\"\(weight)\"" }
        body += " fill=\"\(fill)\""
        if let rotate { body += " transform=\"rotate(\(Self.n(rotate)) \(Self.n(x)) \(Self.n(y)))\"" }
        body += ">\(Self.escape(text))</text>\n"
    }

    public var rendered: String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(Self.n(width))\" height=\"\(Self.n(height))\" "
        out += "viewBox=\"0 0 \(Self.n(width)) \(Self.n(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(Self.n(width))\" height=\"\(Self.n(height))\" fill=\"#ffffff\"/>\n"
        out += body
        out += "</svg>\n"
        return out
    }
}

/// One line in a panel: an objective's values at some x positions.
public struct PlotSeries: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]

    public init(name: String, points: [(x: Double, y: Double)]) {
        self.name = name
        self.points = points
    }
}

/// One panel of a figure: axes with ticks and labels, and one path per series.
public struct PlotPanel: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// Fixed x ticks (value, label); empty means "nice" ticks over the data.
    public var xTicks: [(Double, String)] = []
    /// y range to include whatever the data (e.g. 0 for a count); the data range is always included.
    public var yInclude: [Double] = []
    public var series: [PlotSeries]

    public init(title: String, xLabel: String, yLabel: String, xTicks: [(Double, String)] = [], yInclude: [Double] = [], series: [PlotSeries]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xTicks = xTicks
        self.yInclude = yInclude
        self.series = series
    }
}

/// Lays out panels in a grid under a title and a legend, and writes the SVG.
public struct PanelFigure: Sendable {
    public var title: String
    public var subtitle: String
    /// Rows of panels.
    public var rows: [[PlotPanel]]
    /// Legend entries in display order (names; colours come from ``ObjectivePalette``).
    public var legend: [String]

    public var panelWidth = 400.0
    public var panelHeight = 290.0

    public init(title: String, subtitle: String = "", rows: [[PlotPanel]], legend: [String]) {
        self.title = title
        self.subtitle = subtitle
        self.rows = rows
        self.legend = legend
    }

    static let margin = (left: 62.0, right: 14.0, top: 30.0, bottom: 46.0)

    public var svg: String {
        let columns = rows.map(\.count).max() ?? 1
        let header = subtitle.isEmpty ? 40.0 : 58.0
        let legendHeight = 30.0
        let width = Double(columns) * panelWidth + 20
        let height = header + legendHeight + Double(rows.count) * panelHeight + 10
        var doc = SVGDocument(width: width, height: height)
        doc.text(title, x: width / 2, y: 26, size: 18, anchor: .middle, weight: "bold")
        if !subtitle.isEmpty { doc.text(subtitle, x: width / 2, y: 46, size: 12, anchor: .middle, fill: "#555555") }

        // Legend: one swatch per name, centred in a row.
        let entryWidths = legend.map { 40.0 + Double($0.count) * 7.5 + 14 }
        var x = (width - entryWidths.reduce(0, +)) / 2
        let ly = header + legendHeight / 2
        doc.open(group: "data-legend=\"1\"")
        for (name, w) in zip(legend, entryWidths) {
            let color = ObjectivePalette.color(for: name)
            doc.line(x1: x, y1: ly, x2: x + 32, y2: ly, stroke: color, width: 3, dash: ObjectivePalette.isDashed(name) ? "7,4" : nil)
            doc.text(name, x: x + 38, y: ly + 4.5, size: 13)
            x += w
        }
        doc.close()

        for (r, row) in rows.enumerated() {
            for (c, panel) in row.enumerated() {
                draw(panel, into: &doc, x: 10 + Double(c) * panelWidth, y: header + legendHeight + Double(r) * panelHeight)
            }
        }
        return doc.rendered
    }

    func draw(_ panel: PlotPanel, into doc: inout SVGDocument, x: Double, y: Double) {
        let m = Self.margin
        let left = x + m.left, right = x + panelWidth - m.right
        let top = y + m.top, bottom = y + panelHeight - m.bottom
        let points = panel.series.flatMap(\.points).filter { $0.y.isFinite && $0.x.isFinite }
        var xs = points.map(\.x) + panel.xTicks.map(\.0)
        if xs.isEmpty { xs = [0, 1] }
        let xTickValues = NiceScale.ticks(low: xs.min() ?? 0, high: xs.max() ?? 1)
        let xStep = xTickValues.count > 1 ? xTickValues[1] - xTickValues[0] : 1
        let xTicks = panel.xTicks.isEmpty ? xTickValues.map { ($0, NiceScale.label($0, step: xStep)) } : panel.xTicks
        let xLow = min(xs.min() ?? 0, xTicks.first?.0 ?? 0), xHigh = max(xs.max() ?? 1, xTicks.last?.0 ?? 1)
        let ys = points.map(\.y) + panel.yInclude
        let yTickValues = NiceScale.ticks(low: ys.min() ?? 0, high: ys.max() ?? 1)
        let yLow = yTickValues.first ?? 0, yHigh = yTickValues.last ?? 1
        let yStep = yTickValues.count > 1 ? yTickValues[1] - yTickValues[0] : 1
        func px(_ v: Double) -> Double { left + (xHigh > xLow ? (v - xLow) / (xHigh - xLow) : 0.5) * (right - left) }
        func py(_ v: Double) -> Double { bottom - (yHigh > yLow ? (v - yLow) / (yHigh - yLow) : 0.5) * (bottom - top) }

        doc.open(group: "data-panel=\"\(SVGDocument.escape(panel.title))\"")
        doc.rect(x: left, y: top, width: right - left, height: bottom - top, fill: "#fafafa", stroke: "#bbbbbb")
        for v in yTickValues {
            doc.line(x1: left, y1: py(v), x2: right, y2: py(v), stroke: "#e3e3e3")
            doc.text(NiceScale.label(v, step: yStep), x: left - 6, y: py(v) + 4, size: 11, anchor: .end, fill: "#444444")
        }
        for (v, label) in xTicks {
            doc.line(x1: px(v), y1: bottom, x2: px(v), y2: bottom + 4, stroke: "#888888")
            doc.text(label, x: px(v), y: bottom + 17, size: 11, anchor: .middle, fill: "#444444")
        }
        doc.text(panel.title, x: (left + right) / 2, y: y + 20, size: 14, anchor: .middle, weight: "bold")
        doc.text(panel.xLabel, x: (left + right) / 2, y: bottom + 36, size: 12, anchor: .middle)
        doc.text(panel.yLabel, x: x + 16, y: (top + bottom) / 2, size: 12, anchor: .middle, rotate: -90)
        // Solid objectives first, then the dashed base on top so it stays visible.
        let ordered = panel.series.filter { !ObjectivePalette.isDashed($0.name) } + panel.series.filter { ObjectivePalette.isDashed($0.name) }
        for s in ordered {
            let color = ObjectivePalette.color(for: s.name)
            let dashed = ObjectivePalette.isDashed(s.name)
            let pts = s.points.filter { $0.y.isFinite && $0.x.isFinite }.map { (px($0.x), py($0.y)) }
            doc.path(points: pts, stroke: color, width: dashed ? 2.2 : 2, dash: dashed ? "7,4" : nil, series: s.name)
            if pts.count <= 12 {
                for p in pts { doc.circle(cx: p.0, cy: p.1, r: 2.6, fill: color) }
            }
        }
        doc.close()
    }
}

/// Axis ticks at 1, 2 or 5 times a power of ten, covering [low, high].
enum NiceScale {
    static func ticks(low: Double, high: Double, target: Int = 5) -> [Double] {
        var lo = low, hi = high
        if !(lo.isFinite && hi.isFinite) { return [0, 1] }
        if hi - lo < 1e-12 {
            let pad = max(abs(lo) * 0.05, 1e-3)
            lo -= pad
            hi += pad
        }
        let step = self.step(low: lo, high: hi, target: target)
        var out: [Double] = []
        var i = floor(lo / step + 1e-9)
        while out.count < 60 {
            let v = i * step
            out.append(abs(v) < step * 1e-9 ? 0 : v)
            if v >= hi - step * 1e-9 { break }
            i += 1
        }
        return out
    }

    static func step(low: Double, high: Double, target: Int = 5) -> Double {
        let raw = max(high - low, 1e-12) / Double(target)
        let magnitude = pow(10, floor(log10(raw)))
        return [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * (1 - 1e-9) } ?? 10 * magnitude
    }

    /// A tick label with as many decimals as the tick spacing needs (so 0.985 and 0.99 differ).
    static func label(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        let decimals = max(0, min(8, Int(-floor(log10(step) + 1e-9))))
        var s = formatNumber(v, decimals: decimals)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }
}
