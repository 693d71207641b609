/// A path relative to a run directory, checked lexically: it can only name something below that
/// directory (before symbolic links are considered; ``Confinement`` checks those).
///
/// The form is the one ``RunLayout`` writes into manifests: components joined by single slashes,
/// none of them empty, `.` or `..`, no leading or trailing slash, and no NUL or other control
/// character (a NUL would end the C string early; a newline would split a one-line error). Anything
/// else is refused rather than normalised: a manifest Valence wrote never needs normalising, so a
/// path that does was edited.
///
/// Complexity: O(length), once per path a manifest lists.
public struct RelativePath: Sendable, Equatable, CustomStringConvertible {
    /// The path, exactly as given (already normal).
    public let text: String

    /// Why a text is not a normal relative path; ``description`` completes "the path ...".
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        case absolute
        case emptyComponent
        case dotComponent(String)
        case controlCharacter

        public var description: String {
            switch self {
            case .empty: return "is empty"
            case .absolute: return "is absolute"
            case .emptyComponent: return "has an empty component (a doubled, leading or trailing slash)"
            case let .dotComponent(c): return "has a \"\(c)\" component"
            case .controlCharacter: return "holds a control character"
            }
        }
    }

    public init(validating text: String) throws(Problem) {
        let bytes = text.utf8
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.first != UInt8(ascii: "/") else { throw .absolute }
        var componentStart = bytes.startIndex
        var index = bytes.startIndex
        while true {
            let atEnd = index == bytes.endIndex
            if atEnd || bytes[index] == UInt8(ascii: "/") {
                let component = bytes[componentStart..<index]
                if component.isEmpty { throw .emptyComponent }
                if component.elementsEqual(".".utf8) { throw .dotComponent(".") }
                if component.elementsEqual("..".utf8) { throw .dotComponent("..") }
                if atEnd { break }
                componentStart = bytes.index(after: index)
            } else if bytes[index] < 0x20 || bytes[index] == 0x7f {
                throw .controlCharacter
            }
            index = bytes.index(after: index)
        }
        self.text = text
    }

    public var description: String { text }
}
