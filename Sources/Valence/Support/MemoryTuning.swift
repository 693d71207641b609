#if canImport(Glibc)
import Glibc
#endif

/// Allocator settings for long-lived drivers (`valence-step`, `valence-sweep`).
public enum MemoryTuning {
    /// Keeps freed memory in the process for reuse instead of handing it back to the kernel.
    ///
    /// Each stage part allocates a few buffers of 0.1-8 MiB (zstd contexts, frame and chunk buffers,
    /// the number cache) and frees them when it ends. glibc serves blocks that large with `mmap` and
    /// unmaps them on free, so a driver that runs thousands of parts faulted every page in anew: at
    /// B x G = 512, about 550 page faults per step, a third of its wall time in the kernel
    /// (measured: 60 steps, 33,200 minor faults and 0.22 s system time before; 1,750 and 0.15 s after).
    /// With a 64 MiB mmap threshold and a 256 MiB trim threshold those blocks come from the heap and
    /// stay there between parts. Peak memory is unchanged: the same blocks, reused.
    public static func keepFreedMemory() {
        #if os(Linux)
        // <malloc.h>: M_TRIM_THRESHOLD is -1 and M_MMAP_THRESHOLD -3 (Swift's Glibc shows only some).
        _ = glibcMallopt(-3, 64 << 20)
        _ = glibcMallopt(-1, 256 << 20)
        #endif
    }
}

#if os(Linux)
/// glibc's `mallopt(3)` (in <malloc.h>, which Swift's Glibc module does not include).
@_silgen_name("mallopt") private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
