import Dispatch

extension NumberTextCache {
    /// Runs `body` with a cache from a small per-process pool, so a process reading many small
    /// shards (an in-process step reads six) does not pay for a fresh 256 KiB table each time:
    /// allocating it was 3% of an in-process step (docs/performance.md).
    ///
    /// Reuse changes no result: the number table maps a number's text to its value whatever shard
    /// it came from, and the remembered line prefix (which stands for a schema and run already
    /// checked) is forgotten first, so each read checks its own first line in full.
    ///
    /// - Complexity: O(1) besides `body`; at most ``poolLimit`` caches are kept.
    static func borrow<R>(_ body: (NumberTextCache) throws -> R) rethrows -> R {
        let cache = pool.take() ?? NumberTextCache()
        cache.prefixLength = 0
        defer { pool.give(cache) }
        return try body(cache)
    }

    /// Caches kept between reads (a stage runs at most a few shard readers at once).
    static let poolLimit = 4
    private static let pool = Pool()

    private final class Pool: @unchecked Sendable {
        private var free: [NumberTextCache] = []
        private let lock = DispatchSemaphore(value: 1)

        func take() -> NumberTextCache? {
            lock.wait()
            defer { lock.signal() }
            return free.popLast()
        }

        func give(_ cache: NumberTextCache) {
            lock.wait()
            defer { lock.signal() }
            if free.count < NumberTextCache.poolLimit { free.append(cache) }
        }
    }
}
