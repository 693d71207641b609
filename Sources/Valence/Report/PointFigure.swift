/// Figures of points rather than curves: scatter plots (predicted against measured) and means with
/// standard-error bars (the mechanism study's metrics against G). Drawn with ``SVGDocument`` and
/// laid out like ``PanelFigure``: a title, a legend of names (colours from ``ObjectivePalette``),
/// a grid of panels.
public struct PointFigure: Sendable {
    /// One point: its position and, optionally, the half-height of its error bar.
    public struct Point: Sendable {
        public var x: Double
        public var y: Double
        public var error: Double?
        public init(x: Double, y: Double, error: Double? = nil) {
            self.x = x
            self.y = y
            self.error = error
        }
    }

    public struct Series: Sendable {
        public var name: String
        public var points: [Point]
        /// Join the points (in x order) with a line.
        public var connected: Bool
        public init(name: String, points: [Point], connected: Bool) {
            self.name = name
            self.points = points
            self.connected = connected
        }
    }

    public struct Panel: Sendable {
        public var title: String
        public var xLabel: String
        public var yLabel: String
        /// Fixed x ticks (value, label); empty means nice ticks over the data.
        public var xTicks: [(Double, String)]
        public var series: [Series]
        /// Draw the line y = x (for predicted against measured).
        public var diagonal: Bool
        /// y values the axis must include (e.g. 0 for a difference).
        public var yInclude: [Double]
        public init(title: String, xLabel: String, yLabel: String, xTicks: [(Double, String)] = [], series: [Series],
                    diagonal: Bool = false, yInclude: [Double] = []) {
            self.title = title
            self.xLabel = xLabel
            self.yLabel = yLabel
            self.xTicks = xTicks
            self.series = series
            self.diagonal = diagonal
            self.yInclude = yInclude
        }
    }

    public var title: String
    public var subtitle: String
    public var rows: [[Panel]]
    public var legend: [String]
    public var panelWidth = 400.0
    public var panelHeight = 300.0

    public init(title: String, subtitle: String, rows: [[Panel]], legend: [String]) {
        self.title = title
        self.subtitle = subtitle
        self.rows = rows
        self.legend = legend
    }

    public var svg: String {
        let columns = rows.map(\.count).max() ?? 1
        let header = 58.0, legendHeight = 30.0
        // At least wide enough for the title and the legend's one row; the panels are centred.
        let entryWidths = legend.map { 30.0 + Double($0.count) * 7.5 + 14 }
        let width = max(Double(max(columns, 1)) * panelWidth + 20, 760, entryWidths.reduce(0, +) + 40)
        let height = header + legendHeight + Double(rows.count) * panelHeight + 10
        var doc = SVGDocument(width: width, height: height)
        doc.text(title, x: width / 2, y: 26, size: 18, anchor: .middle, weight: "bold")
        doc.text(subtitle, x: width / 2, y: 46, size: 12, anchor: .middle, fill: "#555555")
        var x = (width - entryWidths.reduce(0, +)) / 2
        let ly = header + legendHeight / 2
        doc.open(group: "data-legend=\"1\"")
        for (name, w) in zip(legend, entryWidths) {
            doc.circle(cx: x + 12, cy: ly, r: 5, fill: ObjectivePalette.color(for: name))
            doc.text(name, x: x + 26, y: ly + 4.5, size: 13)
            x += w
        }
        doc.close()
        for (r, row) in rows.enumerated() {
            for (c, panel) in row.enumerated() {
                let offset = (width - Double(row.count) * panelWidth) / 2
                draw(panel, into: &doc, x: offset + Double(c) * panelWidth, y: header + legendHeight + Double(r) * panelHeight)
            }
        }
        return doc.rendered
    }

    func draw(_ panel: Panel, into doc: inout SVGDocument, x: Double, y: Double) {
        let m = PanelFigure.margin
        let left = x + m.left, right = x + panelWidth - m.right
        let top = y + m.top, bottom = y + panelHeight - m.bottom
        let points = panel.series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var xs = points.map(\.x) + panel.xTicks.map(\.0)
        var ys = points.flatMap { p in [p.y - (p.error ?? 0), p.y + (p.error ?? 0)] } + panel.yInclude
        if panel.diagonal { let all = xs + ys; xs = all; ys = all }
        if xs.isEmpty { xs = [0, 1] }
        let xNice = NiceScale.ticks(low: xs.min() ?? 0, high: xs.max() ?? 1)
        let xStep = xNice.count > 1 ? xNice[1] - xNice[0] : 1
        let xTicks = panel.xTicks.isEmpty ? xNice.map { ($0, NiceScale.label($0, step: xStep)) } : panel.xTicks
        var xLow = min(xs.min() ?? 0, xTicks.first?.0 ?? 0), xHigh = max(xs.max() ?? 1, xTicks.last?.0 ?? 1)
        if !panel.xTicks.isEmpty {
            // Categorical-like ticks: half a step of room on each side.
            let pad = xTicks.count > 1 ? (xHigh - xLow) / Double(2 * (xTicks.count - 1)) : 0.5
            xLow -= pad
            xHigh += pad
        }
        let yTicks = NiceScale.ticks(low: ys.min() ?? 0, high: ys.max() ?? 1)
        let yLow = yTicks.first ?? 0, yHigh = yTicks.last ?? 1
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        func px(_ v: Double) -> Double { left + (xHigh > xLow ? (v - xLow) / (xHigh - xLow) : 0.5) * (right - left) }
        func py(_ v: Double) -> Double { bottom - (yHigh > yLow ? (v - yLow) / (yHigh - yLow) : 0.5) * (bottom - top) }

        doc.open(group: "data-panel=\"\(SVGDocument.escape(panel.title))\"")
        doc.rect(x: left, y: top, width: right - left, height: bottom - top, fill: "#fafafa", stroke: "#bbbbbb")
        for v in yTicks {
            doc.line(x1: left, y1: py(v), x2: right, y2: py(v), stroke: v == 0 ? "#999999" : "#e3e3e3")
            doc.text(NiceScale.label(v, step: yStep), x: left - 6, y: py(v) + 4, size: 11, anchor: .end, fill: "#444444")
        }
        for (v, label) in xTicks {
            doc.line(x1: px(v), y1: bottom, x2: px(v), y2: bottom + 4, stroke: "#888888")
            doc.text(label, x: px(v), y: bottom + 17, size: 11, anchor: .middle, fill: "#444444")
        }
        if panel.diagonal {
            let lo = max(xLow, yLow), hi = min(xHigh, yHigh)
            if hi > lo { doc.line(x1: px(lo), y1: py(lo), x2: px(hi), y2: py(hi), stroke: "#888888", width: 1, dash: "5,4") }
        }
        doc.text(panel.title, x: (left + right) / 2, y: y + 20, size: 14, anchor: .middle, weight: "bold")
        doc.text(panel.xLabel, x: (left + right) / 2, y: bottom + 36, size: 12, anchor: .middle)
        doc.text(panel.yLabel, x: x + 16, y: (top + bottom) / 2, size: 12, anchor: .middle, rotate: -90)
        for s in panel.series {
            let color = ObjectivePalette.color(for: s.name)
            let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
            doc.open(group: "data-series=\"\(SVGDocument.escape(s.name))\"")
            if s.connected { doc.path(points: pts.map { (px($0.x), py($0.y)) }, stroke: color, width: 1.6, dash: nil, series: s.name) }
            for p in pts {
                if let e = p.error, e.isFinite, e > 0 {
                    doc.line(x1: px(p.x), y1: py(p.y - e), x2: px(p.x), y2: py(p.y + e), stroke: color, width: 1.4)
                    doc.line(x1: px(p.x) - 3, y1: py(p.y - e), x2: px(p.x) + 3, y2: py(p.y - e), stroke: color, width: 1.4)
                    doc.line(x1: px(p.x) - 3, y1: py(p.y + e), x2: px(p.x) + 3, y2: py(p.y + e), stroke: color, width: 1.4)
                }
                doc.circle(cx: px(p.x), cy: py(p.y), r: s.connected ? 3 : 2.2, fill: color)
            }
            doc.close()
        }
        doc.close()
    }
}
