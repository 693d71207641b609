/// A prompt set as the exact metrics read it: the table row each prompt uses at every answer
/// position, its correct digit there, and each row's weight in a mean over prompts and positions.
///
/// None of it depends on the policy, so an eval in a long-lived process (`valence-step`, the sweep)
/// takes it from ``ParsedFiles`` once per prompt set instead of working out every prompt's rows at
/// every step (``Evaluation/evaluate(policy:rows:temperature:)``, ``EntropyDecomposition``).
///
/// - Complexity: O(prompts x length x (1 + window)) to build; flat arrays to read.
public struct PromptRows: Sendable {
    /// Answer positions per prompt (the task's length).
    public let length: Int
    public let count: Int
    /// `rows[i * length + j]`: the row prompt i uses at position j.
    let rows: [Int]
    /// `digits[i * length + j]`: prompt i's correct answer digit at position j.
    let digits: [Int]
    /// Each row's share of all prompts' positions, summed prompt by prompt in order (the weights of
    /// the entropy metric; all zero without prompts).
    public let weights: [Double]

    public init(space: ContextSpace, prompts: [(a: Int, b: Int)]) {
        let L = space.length
        length = L
        count = prompts.count
        var rows: [Int] = [], digits: [Int] = []
        rows.reserveCapacity(prompts.count * L)
        digits.reserveCapacity(prompts.count * L)
        var weights = [Double](repeating: 0, count: space.rowCount)
        let unit = prompts.isEmpty ? 0 : 1 / Double(prompts.count * L)
        var promptRows: [Int] = []
        for (a, b) in prompts {
            space.rows(a: a, b: b, into: &promptRows)
            for j in 0..<L {
                rows.append(promptRows[j])
                digits.append(space.task.digit(a + b, at: j))
                weights[promptRows[j]] += unit
            }
        }
        self.rows = rows
        self.digits = digits
        self.weights = weights
    }
}
