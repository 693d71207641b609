// The libFuzzer entry points. Tests/fuzz/fuzz.sh compiles this file together with the sources of
// the Valence library into one module (swiftc -sanitize=fuzzer), so it can reach internal API.
#if canImport(Glibc)
import Glibc
#endif

/// The file the harness writes shard and document inputs to; one per fuzzing process.
nonisolated(unsafe) var scratchPath = "/tmp/valence-fuzz.scratch"

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    let dir = getenv("VALENCE_FUZZ_SCRATCH").map { String(cString: $0) } ?? "/tmp"
    scratchPath = "\(dir)/valence-fuzz-\(getpid()).scratch"
    // VALENCE_FUZZ_WRITE_SEEDS=dir: write the starting corpus there and stop.
    if let seedDir = getenv("VALENCE_FUZZ_WRITE_SEEDS").map({ String(cString: $0) }) {
        for (i, seed) in DecoderFuzzing.seeds().enumerated() {
            do {
                let file = try OutputFile(path: "\(seedDir)/seed-\(i)")
                try file.write(seed)
                try file.close()
            } catch {
                Console.error("fuzz: \(error)")
                exit(1)
            }
        }
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    do {
        try DecoderFuzzing.run(UnsafeBufferPointer(start: data, count: size), scratch: scratchPath)
    } catch {
        Console.error("fuzz: invariant violated: \(error)")
        abort()
    }
    return 0
}
