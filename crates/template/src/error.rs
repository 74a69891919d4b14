//! Errors reported while parsing or executing a template.
//!
//! Every error carries the [`Pos`] of the construct that caused it. The
//! `Display` form is `LINE:COLUMN: message`; callers add their own prefix
//! (the docker CLI prints `template parsing error: ...` or `template: ...`).

use std::fmt;

/// A position in the template source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pos {
    /// Byte offset from the start of the source.
    pub offset: usize,
    /// Line number, starting at 1.
    pub line: usize,
    /// Column within the line, starting at 1, counted in characters.
    pub column: usize,
}

impl Pos {
    /// The position of byte `offset` in `src`.
    pub(crate) fn locate(src: &str, offset: usize) -> Pos {
        let mut offset = offset.min(src.len());
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &src[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Pos {
            offset,
            line,
            column,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A template parse or execution error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An action `{{` was opened but never closed with `}}`.
    #[error("{pos}: unclosed action")]
    UnclosedAction {
        /// Where the action starts.
        pos: Pos,
    },
    /// A comment `{{/*` was never closed with `*/`.
    #[error("{pos}: unclosed comment")]
    UnclosedComment {
        /// Where the comment starts.
        pos: Pos,
    },
    /// Malformed text inside an action (bad number, bad string, stray character, ...).
    #[error("{pos}: {message}")]
    Syntax {
        /// Where the problem is.
        pos: Pos,
        /// What is wrong.
        message: String,
    },
    /// A token that cannot appear where it was found.
    #[error("{pos}: unexpected {found} in {context}")]
    Unexpected {
        /// Where the token is.
        pos: Pos,
        /// The token, quoted.
        found: String,
        /// What was being parsed.
        context: String,
    },
    /// `{{end}}` or `{{else}}` without an open block.
    #[error("{pos}: unexpected {{{{{keyword}}}}}")]
    UnexpectedKeyword {
        /// Where the keyword is.
        pos: Pos,
        /// `end` or `else`.
        keyword: String,
    },
    /// The template ended inside `{{if}}`, `{{with}}` or `{{range}}`.
    #[error("{pos}: unexpected EOF: {{{{{keyword}}}}} has no matching {{{{end}}}}")]
    UnclosedBlock {
        /// Where the unclosed block starts.
        pos: Pos,
        /// `if`, `with` or `range`.
        keyword: String,
    },
    /// A call to a function that does not exist.
    #[error("{pos}: function {name:?} not defined")]
    UndefinedFunction {
        /// Where the name is.
        pos: Pos,
        /// The function name.
        name: String,
    },
    /// Use of a variable that was not declared.
    #[error("{pos}: undefined variable {name:?}")]
    UndefinedVariable {
        /// Where the variable is used.
        pos: Pos,
        /// The variable, with its `$`.
        name: String,
    },
    /// An empty pipeline, as in `{{}}` or `{{if}}`.
    #[error("{pos}: missing value for {context}")]
    MissingValue {
        /// Where the pipeline is.
        pos: Pos,
        /// `command`, `if`, `with`, `range` or `parenthesized pipeline`.
        context: String,
    },
    /// A Go template feature outside the supported subset (`define`, `template`, `block`, complex numbers).
    #[error("{pos}: {feature} is not supported")]
    Unsupported {
        /// Where the feature is used.
        pos: Pos,
        /// The feature.
        feature: String,
    },
    /// A function called with the wrong number of arguments.
    #[error("{pos}: wrong number of args for {name}: want {want} got {got}")]
    ArgCount {
        /// Where the function is named.
        pos: Pos,
        /// The function name.
        name: String,
        /// The accepted count, such as `2` or `at least 1`.
        want: String,
        /// The count given (a piped value counts as the last argument).
        got: usize,
    },
    /// A function argument of the wrong type.
    #[error("{pos}: error calling {name}: wrong type for argument {index}; expected {expected}; got {got}")]
    WrongType {
        /// Where the function is named.
        pos: Pos,
        /// The function name.
        name: String,
        /// The argument number, starting at 1.
        index: usize,
        /// The type the function takes, in Go's spelling.
        expected: String,
        /// The type it was given, in Go's spelling.
        got: String,
    },
    /// A function that failed on its arguments.
    #[error("{pos}: error calling {name}: {message}")]
    Call {
        /// Where the function is named.
        pos: Pos,
        /// The function name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// A field looked up on a value that is not an object.
    #[error("{pos}: can't evaluate field {field} in type {type_name}")]
    Field {
        /// Where the field is.
        pos: Pos,
        /// The field name.
        field: String,
        /// The value's type, in Go's spelling.
        type_name: String,
    },
    /// A field looked up on `null`.
    #[error("{pos}: nil pointer evaluating interface {{}}.{field}")]
    NilPointer {
        /// Where the field is.
        pos: Pos,
        /// The field name.
        field: String,
    },
    /// Arguments given to something that is not a function.
    #[error("{pos}: can't give argument to non-function {name}")]
    NotAFunction {
        /// Where the operand is.
        pos: Pos,
        /// The operand, as written.
        name: String,
    },
    /// `{{range}}` over a value that cannot be iterated.
    #[error("{pos}: range can't iterate over {value}")]
    RangeOver {
        /// Where the range is.
        pos: Pos,
        /// The value, as printed.
        value: String,
    },
    /// Any other execution error.
    #[error("{pos}: {message}")]
    Exec {
        /// Where it happened.
        pos: Pos,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Where in the template source the error is.
    pub fn pos(&self) -> Pos {
        match self {
            Error::UnclosedAction { pos }
            | Error::UnclosedComment { pos }
            | Error::Syntax { pos, .. }
            | Error::Unexpected { pos, .. }
            | Error::UnexpectedKeyword { pos, .. }
            | Error::UnclosedBlock { pos, .. }
            | Error::UndefinedFunction { pos, .. }
            | Error::UndefinedVariable { pos, .. }
            | Error::MissingValue { pos, .. }
            | Error::Unsupported { pos, .. }
            | Error::ArgCount { pos, .. }
            | Error::WrongType { pos, .. }
            | Error::Call { pos, .. }
            | Error::Field { pos, .. }
            | Error::NilPointer { pos, .. }
            | Error::NotAFunction { pos, .. }
            | Error::RangeOver { pos, .. }
            | Error::Exec { pos, .. } => *pos,
        }
    }
}
