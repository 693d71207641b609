import Foundation
import Testing
@testable import Valence

/// The update switches in the run config: recorded in config.json, part of the identity when set,
/// absent switches reading as their defaults.
@Suite struct SwitchConfigTests {
    @Test func defaultSwitchesLeaveTheIdentityAlone() throws {
        let plain = RunConfig()
        let text = String(decoding: plain.identityJSON.compactBytes, as: UTF8.self)
        #expect(!text.contains("minibatches") && !text.contains("clip"))
        // config.json records every switch.
        let full = String(decoding: plain.json.compactBytes, as: UTF8.self)
        for key in ["\"minibatches\":1", "\"clip\":null", "\"entropy_coef\":0", "\"kl_coef\":0", "\"weight_decay\":0",
                    "\"grad_clip\":null", "\"critic_lr\":0.5", "\"filter_groups\":false"] {
            #expect(full.contains(key), "config.json lacks \(key)")
        }
    }

    @Test func everySwitchChangesTheRunID() throws {
        let plain = RunConfig()
        var ids: Set<Identifier> = [plain.runID]
        func with(_ change: (inout RunConfig) -> Void) -> RunConfig {
            var c = RunConfig()
            change(&c)
            return c
        }
        let variants = [
            with { $0.minibatches = 4 }, with { $0.clip = 0.2 }, with { $0.entropyCoef = 0.01 },
            with { $0.klCoef = 0.1 }, with { $0.optimizer = .adamw; $0.weightDecay = 0.01 }, with { $0.gradClip = 1 },
            with { $0.criticLearningRate = 0.25 }, with { $0.filterGroups = true }, with { $0.lambda = 0.2 },
        ]
        for v in variants {
            try v.validate()
            ids.insert(v.runID)
            // Round trip through config.json.
            let back = try RunConfig(json: JSONFields(try JSONValue.parse(v.json.compactBytes), path: "config.json"))
            #expect(back == v)
        }
        #expect(ids.count == variants.count + 1)
    }

    @Test func configsWithoutSwitchesReadAsDefaults() throws {
        let plain = RunConfig()
        guard case .object(let fields) = plain.json else { Issue.record("config json is not an object"); return }
        let old = JSONValue.object(fields.filter { !["minibatches", "clip", "entropy_coef", "kl_coef", "weight_decay",
                                                       "grad_clip", "critic_lr", "filter_groups"].contains($0.0) })
        let back = try RunConfig(json: JSONFields(old, path: "config.json"))
        #expect(back == plain)
        #expect(back.runID == plain.runID)
    }

    @Test func invalidSwitchesAreConfigErrors() {
        func fails(_ change: (inout RunConfig) -> Void) -> Bool {
            var c = RunConfig()
            change(&c)
            do { try c.validate(); return false } catch let e as ValenceError { return e.exitCode == 78 } catch { return false }
        }
        #expect(fails { $0.minibatches = 0 })
        #expect(fails { $0.minibatches = 64 * 8 + 1 })
        #expect(fails { $0.clip = 0 })
        #expect(fails { $0.clip = 1.5 })
        #expect(fails { $0.entropyCoef = -1 })
        #expect(fails { $0.weightDecay = 0.01 })          // adam has no weight decay
        #expect(fails { $0.gradClip = 0 })
        #expect(fails { $0.criticLearningRate = 0 })
        #expect(fails { $0.filterGroups = true; $0.group = 1 })
    }
}
