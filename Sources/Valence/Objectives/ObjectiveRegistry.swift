/// The registry: the single list of objectives and loss rules. `valence-init --list-objectives` and
/// `--list-losses` print it; the Makefile's variables and help, the compare grid, the report palette
/// and the docs table (docs/objectives.md) follow from it (and tests check that they do).
extension Objective {
    public static let psr = Objective("psr", PSR(), color: "#d62728", summary: "Positive Sample Reinforcement: raise correct samples only")
    public static let nsr = Objective("nsr", NSR(), color: "#1f77b4", summary: "Negative Sample Reinforcement: lower wrong samples only")
    public static let reinforce = Objective("reinforce", Reinforce(), color: "#9467bd", summary: "REINFORCE with rewards +1 / -1")
    public static let wReinforce = Objective("w-reinforce", WReinforce(), color: "#2ca02c", summary: "lambda * PSR + NSR (the paper's recommendation)")
    public static let grpo = Objective("grpo", GRPO(), color: "#ff7f0e", summary: "group-normalized advantage")
    public static let rloo = Objective("rloo", RLOO(), color: "#8c564b", summary: "leave-one-out baseline")
    public static let drGrpo = Objective("dr-grpo", DrGRPO(), color: "#e377c2", summary: "group mean baseline, no std division")
    public static let topr = Objective("topr", Reinforce(), loss: TOPR(), color: "#bcbd22", summary: "tapered off-policy REINFORCE")
    public static let ppo = Objective("ppo", PPO(), color: "#17becf", summary: "per-token advantage from a tabular critic")

    /// Every objective, in the order lists, grids and reports use.
    public static let all: [Objective] = [
        .psr, .nsr, .reinforce, .wReinforce, .grpo, .rloo, .drGrpo, .topr, .ppo,
        Objective("passk", PassK(), color: "#393b79", summary: "Pass@k training: advantage of a sample's share in the group's Pass@k"),
        Objective("nsr-ul", NSR(), loss: Unlikelihood(), color: "#637939", summary: "NSR with the unlikelihood loss log(1 - pi) on wrong samples"),
    ]

    /// Every loss rule and loss option, for `--list-losses` and the docs.
    public static let losses: [any LossOption] = [
        PolicyGradientLoss(), TOPR(), Unlikelihood(), PPOClip(), KLCov(), ClipCov(),
    ]

    /// The config fields owned by rules (beyond the core switches), each once, in registry order.
    static var ruleFields: [ConfigField] {
        var out: [ConfigField] = []
        for f in losses.flatMap(\.fields) + all.flatMap(\.advantageRule.fields) where !out.contains(where: { $0.key == f.key }) {
            out.append(f)
        }
        return out
    }

    /// The objectives as `--list-objectives` prints them: name, advantage for a correct and a wrong
    /// sample, loss rule, summary.
    public static var listing: String {
        all.map { o in
            "\(o.rawValue)\t\(o.advantageRule.correctCell)\t\(o.advantageRule.wrongCell)\t\(o.lossRule.name)\t\(o.summary)"
        }.joined(separator: "\n")
    }

    /// The loss rules and options as `--list-losses` prints them: name, fields, help.
    public static var lossListing: String {
        losses.map { l in
            "\(l.name)\t\(l.fields.map(\.key).joined(separator: ","))\t\(l.help)"
        }.joined(separator: "\n")
    }

    /// The objectives table of docs/objectives.md (a test checks the page holds exactly this).
    public static var docsTable: String {
        var lines = ["| objective | A for correct | A for wrong | loss | what it is |", "|---|---|---|---|---|"]
        for o in all {
            let cells = [o.advantageRule.correctCell, o.advantageRule.wrongCell].map { $0.split(separator: "|").joined(separator: "\\|") }
            lines.append("| `\(o.rawValue)` | \(cells[0]) | \(cells[1]) | \(o.lossRule.name) | \(o.summary) |")
        }
        return lines.joined(separator: "\n")
    }
}
