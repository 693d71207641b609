import ArgumentParser
import Valence
import ValenceCLI

extension Objective: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}

@main
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "valence-init",
        abstract: "Create a run directory: its config, the task's train/test prompt shards and the base policy.",
        discussion: """
            Defaults follow docs/model.md. Rerunning with the same settings is a no-op (steps and shards \
            may change: they are not part of the run's identity); different settings for an \
            existing run are refused.
            """
    )

    @Option(name: .customLong("run"), help: ArgumentHelp("The run directory to create.", valueName: "dir"))
    var runPath: String

    @Option(help: "Run seed: fixes the prompt split, the base policy and every rollout.") var seed: UInt64 = 1
    @Option(help: "Operand digits nd (task add).") var digits = 3
    @Option(name: .customLong("train"), help: "Train prompts.") var trainPrompts = 2000
    @Option(name: .customLong("test"), help: "Test prompts.") var testPrompts = 1000
    @Option(help: "Context window w: carry hints from w lower positions.") var window = 0
    @Option(help: "Add-alpha smoothing of the base policy.") var alpha = 0.5
    @Option(help: "Corpus size C for the base policy.") var corpus = 20_000
    @Option(help: "Probability f that the noisy student forgets the carry.") var forget = 0.5
    @Option(help: "Probability s that the noisy student writes a uniform digit.") var noise = 0.1
    @Option(name: .customLong("base-temperature"), help: "Temperature T of the base policy's logits.") var baseTemperature = 1.0
    @Option(help: "Objective: \(Objective.allCases.map(\.rawValue).joined(separator: ", ")).") var objective = Objective.wReinforce
    @Option(help: "lambda of w-reinforce.") var lambda = 0.1
    @Option(name: .customLong("batch"), help: "Prompts per step B.") var batch = 64
    @Option(name: .customLong("group"), help: "Rollouts per prompt G.") var group = 8
    @Option(help: "Optimizer: sgd, adam or adamw.") var optimizer = OptimizerKind.adam
    @Option(help: "Learning rate (default: 0.03 for adam, 1.0 for sgd).") var lr: Double?
    @Option(help: "Training steps.") var steps = 60
    @Option(help: "Minibatches M per step: one optimizer step each, seeded shuffle.") var minibatches = 1
    @Option(help: "PPO clip epsilon (e.g. 0.2); default off.") var clip: Double?
    @Option(name: .customLong("entropy-coef"), help: "Entropy bonus coefficient.") var entropyCoef = 0.0
    @Option(name: .customLong("kl-coef"), help: "Coefficient of KL(pi || base policy).") var klCoef = 0.0
    @Option(name: .customLong("weight-decay"), help: "adamw's decoupled weight decay (default 0.01; adamw only).") var weightDecay: Double?
    @Option(name: .customLong("grad-clip"), help: "Clip each gradient to this Frobenius norm; default off.") var gradClip: Double?
    @Option(name: .customLong("critic-lr"), help: "Learning rate of ppo's tabular critic.") var criticLR = 0.5
    @Flag(name: .customLong("filter-groups"), help: "Drop groups whose rollouts are all correct or all wrong before weighting.") var filterGroups = false
    @Option(help: "sampled: G rollouts per prompt (SPEC 5); expected: their exact expectation (SPEC 8, docs/mechanism.md).") var rollouts = "sampled"
    @Option(help: "Shards per step.") var shards = 1
    @Option(name: .customLong("eval-temperature"), help: "Temperature of the evaluated policy softmax(z / T).") var evalTemperature = 1.0
    @Flag(name: .customLong("eval-train"), help: "Also evaluate on the train prompts.") var evalTrain = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        try runStage("valence-init") {
            var c = RunConfig()
            c.seed = seed
            c.digits = digits
            c.trainPrompts = trainPrompts
            c.testPrompts = testPrompts
            c.window = window
            c.alpha = alpha
            c.corpus = corpus
            c.forget = forget
            c.noise = noise
            c.baseTemperature = baseTemperature
            c.objective = objective
            c.lambda = lambda
            c.batch = batch
            c.group = group
            c.optimizer = optimizer
            c.learningRate = lr ?? optimizer.defaultLearningRate
            c.steps = steps
            c.minibatches = minibatches
            c.clip = clip
            c.entropyCoef = entropyCoef
            c.klCoef = klCoef
            c.weightDecay = weightDecay ?? (optimizer == .adamw ? OptimizerKind.defaultWeightDecay : 0)
            c.gradClip = gradClip
            c.criticLearningRate = criticLR
            c.filterGroups = filterGroups
            guard let mode = RolloutMode(rawValue: rollouts) else {
                throw ValenceError.config(detail: "--rollouts \"\(rollouts)\" is not sampled or expected")
            }
            c.rollouts = mode
            c.shards = shards
            c.evalTemperature = evalTemperature
            c.evalTrain = evalTrain
            try InitStage.run(root: runPath, config: c, log: output.log)
        }
    }
}
