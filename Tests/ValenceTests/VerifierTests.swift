import Testing
@testable import Valence

@Suite struct VerifierTests {
    let verifier = Verifier(task: try! AddTask(digits: 3))

    @Test func correctAnswersArePaddedToLDigits() {
        #expect(verifier.verdict(response: "1134", a: 345, b: 789) == .correct)
        #expect(verifier.verdict(response: "0042", a: 12, b: 30) == .correct)
        #expect(verifier.verdict(response: "0000", a: 0, b: 0) == .correct)
        #expect(verifier.verdict(response: "1998", a: 999, b: 999) == .correct)
    }

    @Test func wrongAnswers() {
        #expect(verifier.verdict(response: "1133", a: 345, b: 789) == .wrong)
        #expect(verifier.verdict(response: "0134", a: 345, b: 789) == .wrong)
        #expect(verifier.verdict(response: "9999", a: 0, b: 0) == .wrong)
    }

    @Test(arguments: ["", "42", "042", "00042", "11345", "12 4", " 042", "0042\n", "-042", "+042", "00a2", "0x2a",
                      "١٢٣٤", "０⁠０４２", "００４２", "4.20"])
    func malformedResponses(_ response: String) {
        #expect(verifier.verdict(response: response, a: 12, b: 30) == .malformed)
    }

    @Test func rewardFollowsVerdict() {
        #expect(Verdict.correct.reward == 1)
        #expect(Verdict.wrong.reward == 0)
        #expect(Verdict.malformed.reward == 0)
    }

    @Test func answerTextAndDigits() throws {
        let task = try AddTask(digits: 3)
        #expect(task.answerText(a: 345, b: 789) == "1134")
        #expect(task.answerText(a: 12, b: 30) == "0042")
        #expect(task.promptText(a: 345, b: 789) == "345+789=")
        #expect((0..<4).map { task.digit(1134, at: $0) } == [1, 1, 3, 4])
    }
}
