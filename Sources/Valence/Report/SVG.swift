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

    /// The marker shape of each objective, so that curves are told apart without colour too.
    public static func marker(for name: String) -> SeriesMarker {
        let all = SeriesMarker.allCases
        if let i = fixed.firstIndex(where: { $0.name == name }) { return all[i % all.count] }
        var d = Digest()
        d.update(name)
        return all[Int(d.value % UInt64(all.count))]
    }
}

/// Marker shapes drawn on the points of a curve and in its legend entry.
public enum SeriesMarker: String, CaseIterable, Sendable {
    case circle, square, triangle, diamond, triangleDown, plus, cross, star, bar, hexagon, pentagon, column

    /// SVG for the marker centred at (x, y) with "radius" r.
    func svg(x: Double, y: Double, r: Double, color: String) -> String {
        func n(_ v: Double) -> String { SVGDocument.n(v) }
        func polygon(_ pts: [(Double, Double)]) -> String {
            "<polygon points=\"\(pts.map { "\(n(x + $0.0 * r)),\(n(y + $0.1 * r))" }.joined(separator: " "))\" fill=\"\(color)\"/>"
        }
        func strokes(_ segs: [(Double, Double, Double, Double)]) -> String {
            segs.map { "<line x1=\"\(n(x + $0.0 * r))\" y1=\"\(n(y + $0.1 * r))\" x2=\"\(n(x + $0.2 * r))\" y2=\"\(n(y + $0.3 * r))\" stroke=\"\(color)\" stroke-width=\"1.6\"/>" }.joined()
        }
        switch self {
        case .circle: return "<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"\(n(r))\" fill=\"\(color)\"/>"
        case .square: return polygon([(-0.9, -0.9), (0.9, -0.9), (0.9, 0.9), (-0.9, 0.9)])
        case .triangle: return polygon([(0, -1.2), (1.1, 0.8), (-1.1, 0.8)])
        case .triangleDown: return polygon([(0, 1.2), (1.1, -0.8), (-1.1, -0.8)])
        case .diamond: return polygon([(0, -1.3), (1.1, 0), (0, 1.3), (-1.1, 0)])
        case .hexagon: return polygon([(1.1, 0), (0.55, -0.95), (-0.55, -0.95), (-1.1, 0), (-0.55, 0.95), (0.55, 0.95)])
        case .star: return polygon([(0, -1.3), (0.35, -0.4), (1.25, -0.4), (0.5, 0.15), (0.8, 1.1), (0, 0.5), (-0.8, 1.1), (-0.5, 0.15), (-1.25, -0.4), (-0.35, -0.4)])
        case .bar: return polygon([(-1.2, -0.45), (1.2, -0.45), (1.2, 0.45), (-1.2, 0.45)])
        case .plus: return strokes([(-1.3, 0, 1.3, 0), (0, -1.3, 0, 1.3)])
        case .cross: return strokes([(-1, -1, 1, 1), (-1, 1, 1, -1)])
        case .pentagon: return polygon([(0, -1.2), (1.15, -0.35), (0.7, 1.0), (-0.7, 1.0), (-1.15, -0.35)])
        case .column: return polygon([(-0.45, -1.2), (0.45, -1.2), (0.45, 1.2), (-0.45, 1.2)])
        }
    }
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

    /// A generous estimate of the rendered width of `text` at font size `size` (DejaVu Sans, the
    /// widest of the fonts the figures name: most glyphs advance 0.55-0.65 em, bold up to 0.7).
    /// Layout uses it so that no label runs off the canvas.
    public static func estimatedWidth(_ text: String, size: Double, bold: Bool = false) -> Double {
        Double(text.count) * size * (bold ? 0.7 : 0.64)
    }

    /// Raw SVG markup, e.g. a ``SeriesMarker``.
    public mutating func append(_ markup: String) { body += markup + "\n" }

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
    public mutating func path(points: [(Double, Double)], stroke: String, width: Double, dash: String?, dashOffset: Double = 0,
                              series: String) {
        guard let first = points.first else { return }
        var d = "M\(Self.n(first.0)),\(Self.n(first.1))"
        for p in points.dropFirst() { d += " L\(Self.n(p.0)),\(Self.n(p.1))" }
        body += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(Self.n(width))\" stroke-linejoin=\"round\""
        if let dash { body += " stroke-dasharray=\"\(dash)\"" }
        if dashOffset != 0 { body += " stroke-dashoffset=\"\(Self.n(dashOffset))\"" }
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
///
/// Layout guarantees, checked by ReportTests against every figure the reports write: every text
/// lies inside the canvas (the legend wraps onto as many rows as it needs; a title, subtitle or axis
/// label too long for its room is set in a smaller font), and curves that coincide are all visible
/// and named (each objective has its own marker shape; a curve lying on an earlier one is drawn
/// dashed over it so both colours alternate; a note under the panel lists such curves, and the
/// legend says "dr-grpo (= rloo)" when they coincide in every panel where both are drawn).
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
    static let noteSize = 10.5
    static let noteLineHeight = 13.0
    static let legendRowHeight = 22.0
    static let markerRadius = 3.2

    /// A panel's axes: ticks and data ranges.
    struct Scale {
        var xTicks: [(Double, String)]
        var xLow: Double, xHigh: Double
        var yTicks: [Double]
        var yLow: Double, yHigh: Double
        var yStep: Double
    }

    static func scale(_ panel: PlotPanel) -> Scale {
        let points = panel.series.flatMap(\.points).filter { $0.y.isFinite && $0.x.isFinite }
        var xs = points.map(\.x) + panel.xTicks.map(\.0)
        if xs.isEmpty { xs = [0, 1] }
        let xTickValues = NiceScale.ticks(low: xs.min() ?? 0, high: xs.max() ?? 1)
        let xStep = xTickValues.count > 1 ? xTickValues[1] - xTickValues[0] : 1
        let xTicks = panel.xTicks.isEmpty ? xTickValues.map { ($0, NiceScale.label($0, step: xStep)) } : panel.xTicks
        let xLow = min(xs.min() ?? 0, xTicks.first?.0 ?? 0), xHigh = max(xs.max() ?? 1, xTicks.last?.0 ?? 1)
        let ys = points.map(\.y) + panel.yInclude
        let yTicks = NiceScale.ticks(low: ys.min() ?? 0, high: ys.max() ?? 1)
        return Scale(xTicks: xTicks, xLow: xLow, xHigh: xHigh, yTicks: yTicks, yLow: yTicks.first ?? 0, yHigh: yTicks.last ?? 1,
                     yStep: yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1)
    }

    /// Solid objectives first, then the dashed base on top so it stays visible.
    static func drawOrder(_ panel: PlotPanel) -> [PlotSeries] {
        panel.series.filter { !ObjectivePalette.isDashed($0.name) } + panel.series.filter { ObjectivePalette.isDashed($0.name) }
    }

    static func leaders(_ panel: PlotPanel) -> [String: String] {
        let s = scale(panel)
        return CoincidingSeries.leaders(drawOrder(panel), ySpan: s.yHigh - s.yLow)
    }

    /// The font size at which `text` fits in `room` (never above `size`).
    static func fitting(_ text: String, size: Double, room: Double, bold: Bool = false) -> Double {
        let w = SVGDocument.estimatedWidth(text, size: size, bold: bold)
        return w <= room ? size : size * room / w
    }

    /// Words joined into lines no wider than `room` at `size`.
    static func wrap(_ items: [String], separator: String, size: Double, room: Double) -> [String] {
        var lines: [String] = []
        var current = ""
        for item in items {
            let candidate = current.isEmpty ? item : current + separator + item
            if !current.isEmpty && SVGDocument.estimatedWidth(candidate, size: size) > room {
                lines.append(current)
                current = item
            } else {
                current = candidate
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// The note under a panel naming its coinciding curves (empty when none do).
    func notes(_ panel: PlotPanel, leaders: [String: String]) -> [String] {
        let order = Self.drawOrder(panel).map(\.name)
        var groups: [String] = []
        for leader in order where leaders[leader] == nil {
            let members = order.filter { leaders[$0] == leader }
            if !members.isEmpty { groups.append(([leader] + members).joined(separator: " = ")) }
        }
        if groups.isEmpty { return [] }
        let pct = formatNumber(CoincidingSeries.tolerance * 100, decimals: 1)
        let text = "same curve (within \(pct)% of the axis): " + groups.joined(separator: "; ")
        return Self.wrap(text.split(separator: " ").map(String.init), separator: " ", size: Self.noteSize, room: panelWidth - 20)
    }

    /// Legend text of each name: "dr-grpo (= rloo)" when it lies on the same curve in every panel where both are drawn.
    func legendText(_ allLeaders: [(PlotPanel, [String: String])]) -> [String] {
        legend.map { name in
            let drawn = allLeaders.filter { panel, _ in panel.series.contains { $0.name == name } }
            guard let first = drawn.first?.1[name],
                  drawn.allSatisfy({ $0.1[name] == first }) else { return name }
            return "\(name) (= \(first))"
        }
    }

    public var svg: String {
        let columns = rows.map(\.count).max() ?? 1
        let width = Double(columns) * panelWidth + 20
        let allLeaders = rows.flatMap { $0 }.map { ($0, Self.leaders($0)) }
        let noteLines = allLeaders.map { notes($0.0, leaders: $0.1).count }.max() ?? 0
        let panelTotal = panelHeight + Double(noteLines) * Self.noteLineHeight

        // Legend rows: entries (swatch 32, gap 6, text, gap 16) packed left to right, each row centred.
        let labels = legendText(allLeaders)
        let entryWidths = labels.map { 38 + SVGDocument.estimatedWidth($0, size: 13) + 16 }
        var legendRows: [[Int]] = [[]]
        var used = 0.0
        for (i, w) in entryWidths.enumerated() {
            if !legendRows[legendRows.count - 1].isEmpty && used + w > width - 20 {
                legendRows.append([])
                used = 0
            }
            legendRows[legendRows.count - 1].append(i)
            used += w
        }
        let header = subtitle.isEmpty ? 40.0 : 58.0
        let legendHeight = Double(legendRows.count) * Self.legendRowHeight + 8
        let height = header + legendHeight + Double(rows.count) * panelTotal + 10
        var doc = SVGDocument(width: width, height: height)
        doc.text(title, x: width / 2, y: 26, size: Self.fitting(title, size: 18, room: width - 20, bold: true), anchor: .middle, weight: "bold")
        if !subtitle.isEmpty {
            doc.text(subtitle, x: width / 2, y: 46, size: Self.fitting(subtitle, size: 12, room: width - 20), anchor: .middle, fill: "#555555")
        }

        doc.open(group: "data-legend=\"1\"")
        for (r, row) in legendRows.enumerated() {
            var x = (width - row.map { entryWidths[$0] }.reduce(0, +)) / 2
            let ly = header + 4 + Self.legendRowHeight * (Double(r) + 0.5)
            for i in row {
                let name = legend[i], color = ObjectivePalette.color(for: name)
                doc.line(x1: x, y1: ly, x2: x + 32, y2: ly, stroke: color, width: 3, dash: ObjectivePalette.isDashed(name) ? "7,4" : nil)
                doc.append(ObjectivePalette.marker(for: name).svg(x: x + 16, y: ly, r: Self.markerRadius + 0.6, color: color))
                doc.text(labels[i], x: x + 38, y: ly + 4.5, size: 13)
                x += entryWidths[i]
            }
        }
        doc.close()

        for (r, row) in rows.enumerated() {
            for (c, panel) in row.enumerated() {
                let leaders = allLeaders[rows[..<r].map(\.count).reduce(0, +) + c].1
                draw(panel, leaders: leaders, into: &doc, x: 10 + Double(c) * panelWidth,
                     y: header + legendHeight + Double(r) * panelTotal)
            }
        }
        return doc.rendered
    }

    func draw(_ panel: PlotPanel, leaders: [String: String], into doc: inout SVGDocument, x: Double, y: Double) {
        let m = Self.margin
        let s = Self.scale(panel)
        // Room on the left for the widest y tick label and the rotated axis title beside it.
        let tickWidth = s.yTicks.map { SVGDocument.estimatedWidth(NiceScale.label($0, step: s.yStep), size: 11) }.max() ?? 0
        let left = x + max(m.left, tickWidth + 6 + 26), right = x + panelWidth - m.right
        let top = y + m.top, bottom = y + panelHeight - m.bottom
        func px(_ v: Double) -> Double { left + (s.xHigh > s.xLow ? (v - s.xLow) / (s.xHigh - s.xLow) : 0.5) * (right - left) }
        func py(_ v: Double) -> Double { bottom - (s.yHigh > s.yLow ? (v - s.yLow) / (s.yHigh - s.yLow) : 0.5) * (bottom - top) }

        doc.open(group: "data-panel=\"\(SVGDocument.escape(panel.title))\"")
        doc.rect(x: left, y: top, width: right - left, height: bottom - top, fill: "#fafafa", stroke: "#bbbbbb")
        for v in s.yTicks {
            doc.line(x1: left, y1: py(v), x2: right, y2: py(v), stroke: "#e3e3e3")
            doc.text(NiceScale.label(v, step: s.yStep), x: left - 6, y: py(v) + 4, size: 11, anchor: .end, fill: "#444444")
        }
        for (v, label) in s.xTicks {
            doc.line(x1: px(v), y1: bottom, x2: px(v), y2: bottom + 4, stroke: "#888888")
            doc.text(label, x: px(v), y: bottom + 17, size: 11, anchor: .middle, fill: "#444444")
        }
        doc.text(panel.title, x: x + panelWidth / 2, y: y + 20, size: Self.fitting(panel.title, size: 14, room: panelWidth - 10, bold: true),
                 anchor: .middle, weight: "bold")
        doc.text(panel.xLabel, x: (left + right) / 2, y: bottom + 36, size: Self.fitting(panel.xLabel, size: 12, room: right - left),
                 anchor: .middle)
        doc.text(panel.yLabel, x: left - tickWidth - 14, y: (top + bottom) / 2, size: Self.fitting(panel.yLabel, size: 12, room: bottom - top),
                 anchor: .middle, rotate: -90)
        let order = Self.drawOrder(panel)
        for (index, series) in order.enumerated() {
            let color = ObjectivePalette.color(for: series.name)
            let pts = series.points.filter { $0.y.isFinite && $0.x.isFinite }.map { (px($0.x), py($0.y)) }
            var dash: String? = ObjectivePalette.isDashed(series.name) ? "7,4" : nil
            var offset = 0.0
            // A curve on an earlier one: dashes that leave gaps for the leader and the other members.
            if dash == nil, let leader = leaders[series.name] {
                let members = order.map(\.name).filter { leaders[$0] == leader }
                let k = Double(members.count + 1), rank = Double((members.firstIndex(of: series.name) ?? 0) + 1)
                dash = "6,\(SVGDocument.n(6 * (k - 1)))"
                offset = 6 * (k - rank)
            }
            doc.path(points: pts, stroke: color, width: ObjectivePalette.isDashed(series.name) ? 2.2 : 2, dash: dash,
                     dashOffset: offset, series: series.name)
            // Markers on every point of short curves; on every stride-th point of long ones, shifted
            // per series so that coinciding curves show their markers side by side.
            let stride = pts.count <= 12 ? 1 : (pts.count + 9) / 10
            let marker = ObjectivePalette.marker(for: series.name)
            for (i, p) in pts.enumerated() where (i + index) % stride == 0 {
                doc.append(marker.svg(x: p.0, y: p.1, r: Self.markerRadius, color: color))
            }
        }
        for (i, line) in notes(panel, leaders: leaders).enumerated() {
            doc.text(line, x: x + 10, y: bottom + 52 + Double(i) * Self.noteLineHeight, size: Self.noteSize, fill: "#444444")
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
