import Testing
@testable import Valence

/// Single SGD and Adam steps against values computed by hand.
@Suite struct OptimizerTests {
    @Test func sgdStepIsGradientAscent() {
        var state = OptimizerState(kind: .sgd, parameterCount: 3)
        var z = [0.0, 1.0, -2.0]
        state.step(parameters: &z, gradient: [0.5, -1.0, 0.0], learningRate: 0.1)
        #expect(z == [0.05, 0.9, -2.0])
        #expect(state.t == 1)
    }

    @Test func adamTwoStepsByHand() {
        var state = OptimizerState(kind: .adam, parameterCount: 2)
        var z = [0.0, 0.0]
        // Step 1, g = (0.5, 0): m = 0.05, v = 0.00025; m_hat = 0.5, v_hat = 0.25.
        state.step(parameters: &z, gradient: [0.5, 0], learningRate: 0.1)
        let first = 0.1 * 0.5 / (0.5 + 1e-8)
        #expect(abs(z[0] - first) < 1e-15)
        #expect(z[1] == 0)  // zero gradient, zero moments: no move
        // Step 2, g = (-0.2, 0): m = 0.9*0.05 - 0.02 = 0.025, v = 0.999*0.00025 + 0.001*0.04 = 0.00028975
        state.step(parameters: &z, gradient: [-0.2, 0], learningRate: 0.1)
        let mHat = 0.025 / (1 - 0.81)
        let vHat = 0.00028975 / (1 - 0.998001)
        let second = first + 0.1 * mHat / (vHat.squareRoot() + 1e-8)
        #expect(abs(z[0] - second) < 1e-12)
        #expect(abs(state.m[0] - 0.025) < 1e-15)
        #expect(abs(state.v[0] - 0.00028975) < 1e-15)
        #expect(state.t == 2)
    }

    @Test func unvisitedRowsKeepMovingWhileMomentsDecay() {
        var state = OptimizerState(kind: .adam, parameterCount: 1)
        var z = [0.0]
        state.step(parameters: &z, gradient: [1], learningRate: 0.01)
        let afterFirst = z[0]
        state.step(parameters: &z, gradient: [0], learningRate: 0.01)
        #expect(z[0] > afterFirst)          // momentum carries the row on
        #expect(state.m[0] == 0.9 * (1 - 0.9))  // and decays
    }

    @Test func stateRoundTripsThroughItsFile() throws {
        let space = try ContextSpace(task: try AddTask(digits: 1), window: 0)
        var state = OptimizerState(kind: .adam, parameterCount: space.rowCount * 10)
        var z = [Double](repeating: 0, count: space.rowCount * 10)
        var g = z
        for i in g.indices { g[i] = Double(i % 7) / 7 - 0.3 }
        state.step(parameters: &z, gradient: g, learningRate: 0.03)
        let dir = TestSupport.temporaryDirectory()
        try state.write(to: "\(dir)/optimizer.jsonl.zst", space: space)
        let back = try OptimizerState.read(from: "\(dir)/optimizer.jsonl.zst", kind: .adam, space: space).state
        #expect(back == state)
    }
}
