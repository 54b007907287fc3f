//! What the splitter hands out: statements (with their line, number and kind), delimiter
//! lines and trivia, and why a script cannot be split.

use std::io;
use std::ops::Range;

use super::super::classify::Kind;

/// One statement of a script, with everything needed to run it and report on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The input text of this piece: leading comments and whitespace, the body and the
    /// delimiter that ended it (empty at end of file).
    pub raw: String,
    /// The part of `raw` that is sent to the server: from its first significant byte to the
    /// last one before the delimiter.
    pub body: Range<usize>,
    /// 1-based line of the body's first byte.
    pub line: u64,
    /// 1-based number of this statement in its file.
    pub number: u32,
    /// What the statement does to a transaction.
    pub kind: Kind,
    /// Whether the statement was ended by the standard `;` delimiter (or end of file while it
    /// was in force). Only such statements can be sent together in one multi-statement packet
    /// without changing their meaning.
    pub default_delimiter: bool,
    /// The body with CRLF line breaks turned into LF, when it has any: what the client sends
    /// (it reads lines and drops their CR), so a CRLF checkout inserts the same text as an LF
    /// one – the two have the same checksum, so they must behave the same.
    pub(super) lf: Option<String>,
}

impl Statement {
    /// The text sent to the server.
    pub fn sql(&self) -> &str {
        match &self.lf {
            Some(lf) => lf,
            None => &self.raw[self.body.clone()],
        }
    }
}

/// A piece of the input. Every byte of the input belongs to exactly one piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Statement(Statement),
    /// A `DELIMITER xx` line, with its line break.
    Delimiter {
        raw: String,
        line: u64,
        delimiter: String,
    },
    /// Comments, whitespace or a lone delimiter: nothing to send.
    Trivia {
        raw: String,
    },
}

impl Piece {
    pub fn raw(&self) -> &str {
        match self {
            Piece::Statement(s) => &s.raw,
            Piece::Delimiter { raw, .. } | Piece::Trivia { raw } => raw,
        }
    }
}

/// Why a script cannot be split. Lines are 1-based; the caller adds the file's path.
#[derive(Debug)]
pub enum SplitError {
    Unterminated { what: &'static str, line: u64 },
    DelimiterMissing { line: u64 },
    DelimiterBackslash { line: u64 },
    InvalidUtf8 { offset: u64 },
    Io(io::Error),
}

impl From<io::Error> for SplitError {
    fn from(e: io::Error) -> Self {
        SplitError::Io(e)
    }
}

/// `line N: problem` (or the problem alone when it has no line): callers that know the file
/// show `path:N: problem` from [`SplitError::line`] and [`SplitError::problem`].
impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line() {
            Some(line) => write!(f, "line {line}: {}", self.problem()),
            None => f.write_str(&self.problem()),
        }
    }
}

impl std::error::Error for SplitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SplitError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl SplitError {
    /// What is wrong, without where.
    pub fn problem(&self) -> String {
        match self {
            SplitError::Unterminated { what, .. } => {
                format!("unterminated {what} (it opens here and never closes)")
            }
            SplitError::DelimiterMissing { .. } => {
                "DELIMITER must be followed by a delimiter, e.g. `DELIMITER $$`".to_owned()
            }
            SplitError::DelimiterBackslash { .. } => {
                "a delimiter cannot contain a backslash".to_owned()
            }
            SplitError::InvalidUtf8 { offset } => format!("byte {offset}: invalid UTF-8"),
            SplitError::Io(e) => e.to_string(),
        }
    }

    /// The line the error points at, when it has one.
    pub fn line(&self) -> Option<u64> {
        match self {
            SplitError::Unterminated { line, .. }
            | SplitError::DelimiterMissing { line }
            | SplitError::DelimiterBackslash { line } => Some(*line),
            SplitError::InvalidUtf8 { .. } | SplitError::Io(_) => None,
        }
    }
}
