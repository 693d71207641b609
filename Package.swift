// swift-tools-version: 6.1
import PackageDescription

/// Valence: a staged RLVR pipeline (PSR / NSR / W-REINFORCE) over zstd-compressed JSONL shards.
///
/// One library (`Valence`) holds the domain; each `valence-*` executable is a thin command-line
/// front end for one pipeline stage.
let stages = ["init", "generate", "verify", "split", "weight", "update", "eval", "report", "status", "step", "sweep", "tensorboard"]
/// Developer tools built the same way but not part of the pipeline: `valence-bench-codec` times the
/// rollout decoders for `make bench-codec` (docs/performance.md).
let tools = ["bench-codec"]

let package = Package(
    name: "Valence",
    platforms: [.macOS(.v13)],
    products: [.library(name: "Valence", targets: ["Valence"])]
        + (stages + tools).map { .executable(name: "valence-\($0)", targets: ["valence-\($0)"]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            path: "Sources/CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // openat2(2), which Glibc does not reach: a header-only shim.
        .systemLibrary(name: "CSyscalls", path: "Sources/CSyscalls"),
        .target(
            name: "Valence",
            dependencies: ["CZstd", "CSyscalls"],
            path: "Sources/Valence"
        ),
        .target(
            name: "ValenceCLI",
            dependencies: [
                "Valence",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/ValenceCLI"
        ),
        .testTarget(
            name: "ValenceTests",
            // CZstd: the shard framing tests walk zstd frames themselves.
            dependencies: ["Valence", "CZstd"],
            path: "Tests/ValenceTests"
        ),
    ] + (stages + tools).map { stage in
        .executableTarget(
            name: "valence-\(stage)",
            dependencies: [
                "Valence",
                "ValenceCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/valence-\(stage)"
        )
    }
)
