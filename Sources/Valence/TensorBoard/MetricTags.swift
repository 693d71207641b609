/// TensorBoard tags for the fields of a `valence.metrics/1` line.
///
/// TensorBoard groups scalars by the part of the tag before the first `/`, so related fields share
/// a prefix: `pass@k/1` ... `pass@k/256`, `sampled_pass@k/...`, `grad_norm/total|psr|nsr`,
/// `batch/correct|positives|...`, `redist/...`, `entropy` with `entropy/delta`. A field with no
/// rule keeps its name, so a field added to the metrics later still appears.
public enum MetricTags {
    /// Fields that identify a line rather than measure something.
    public static let identity: Set<String> = ["schema", "step", "objective", "window", "seed", "split"]

    /// Fields that describe the training batch (present from step 1).
    static let batchFields: Set<String> = ["positives", "negatives", "solved_all", "solved_none", "solved_some"]

    /// The tag for metrics field `key` on a line of split `split`, or nil for identity fields.
    /// Lines of a split other than `test` get the split as a first component (`train/pass@k/1`).
    public static func tag(for key: String, split: String) -> String? {
        guard !identity.contains(key) else { return nil }
        let name = baseTag(for: key)
        return split == "test" ? name : "\(split)/\(name)"
    }

    static func baseTag(for key: String) -> String {
        if let k = key.dropPrefix("pass@") { return "pass@k/\(k)" }
        if let k = key.dropPrefix("sampled_pass@") { return "sampled_pass@k/\(k)" }
        if key == "grad_norm" { return "grad_norm/total" }
        if let part = key.dropPrefix("grad_norm_") { return "grad_norm/\(part)" }
        if let part = key.dropPrefix("batch_") { return "batch/\(part)" }
        if batchFields.contains(key) || key.hasPrefix("dropped_groups_") { return "batch/\(key)" }
        if let part = key.dropPrefix("redist_") { return "redist/\(part)" }
        if let part = key.dropPrefix("entropy_") { return "entropy/\(part)" }
        return key
    }
}

extension String {
    /// The rest of the string after `prefix`, or nil when it does not start with it (or is only it).
    func dropPrefix(_ prefix: String) -> String? {
        guard hasPrefix(prefix), count > prefix.count else { return nil }
        return String(dropFirst(prefix.count))
    }
}
