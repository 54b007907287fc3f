//! The statement splitter: a streaming state machine over the bytes of a SQL script.
//!
//! It accepts what the `mysql`/`mariadb` command-line client accepts from a script (SPEC §2):
//!
//! - statements end at the current delimiter (`;` at first);
//! - `'…'` and `"…"` strings end at their quote; a backslash escapes the next byte and a doubled
//!   quote stands for itself; `` `…` `` identifiers only know the doubled backtick;
//! - `-- ` (two dashes and whitespace, or end of line), `#` and `/* … */` are comments; where a
//!   statement would start, `--` needs no whitespace after it (the `mariadb` client's rule, so a
//!   `----------` separator line is a comment: no statement can start with `--`);
//! - `/*! … */`, `/*!50001 … */` and `/*M! … */` are *not* comments: the server reads them, so
//!   they are scanned like any other statement text (quotes and the delimiter count inside them,
//!   as in the client);
//! - optimizer hints `/*+ … */` are kept in the statement, but scanned like a comment (quotes and
//!   the delimiter do not count inside them, as in both the `mariadb` and `mysql` clients);
//! - a `DELIMITER xx` line (any case) where a statement would start changes the delimiter; it is
//!   never sent to the server;
//! - a statement made only of comments and whitespace is not a statement.
//!
//! Every byte of the input belongs to exactly one [`Piece`], so concatenating the pieces' `raw`
//! text rebuilds the input exactly (the round-trip property the tests check). Only the current
//! piece is held in memory: a 1 GB seed file streams through in constant space, bounded by its
//! largest statement.
//!
//! Line numbers count `\n` (so CRLF files number their lines as editors do) and are 1-based.

use std::io::{self, Read};
use std::ops::Range;

use super::classify::{Kind, classify};

/// How much is read from the input at a time.
const CHUNK: usize = 64 * 1024;

/// Comments and blank lines before a statement are handed out as a [`Piece::Trivia`] of their
/// own once they pass this size, so a file of mostly comments streams in constant memory.
const TRIVIA_FLUSH: usize = 64 * 1024;

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
    lf: Option<String>,
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
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("line {line}: unterminated {what} (it opens here and never closes)")]
    Unterminated { what: &'static str, line: u64 },
    #[error("line {line}: DELIMITER must be followed by a delimiter, e.g. `DELIMITER $$`")]
    DelimiterMissing { line: u64 },
    #[error("line {line}: a delimiter cannot contain a backslash")]
    DelimiterBackslash { line: u64 },
    #[error("byte {offset}: invalid UTF-8")]
    InvalidUtf8 { offset: u64 },
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl SplitError {
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

/// Splits a script read from `R` into [`Piece`]s. Iterate it; after the first error it yields
/// nothing more.
pub struct Splitter<R> {
    input: R,
    /// How much is read at a time ([`CHUNK`], smaller in tests to reach every boundary).
    chunk: usize,
    /// The window of input: `buf[start..]` is the current piece and what was read after it.
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    failed: bool,
    delimiter: Vec<u8>,
    /// Line number of `buf[start]`.
    line: u64,
    /// Byte offset of `buf[start]` in the input.
    offset: u64,
    statements: u32,
    /// Whether `buf[start]` begins a line (a `DELIMITER` directive must).
    at_line_start: bool,
    /// The last `DELIMITER` line that set something other than `;`, while it is in force.
    changed_delimiter: Option<(u64, String)>,
}

/// Splits a whole string. Convenient for tests and small files.
pub fn split_str(sql: &str) -> Splitter<&[u8]> {
    Splitter::new(sql.as_bytes())
}

/// The statements of a string, or the first error.
pub fn statements(sql: &str) -> Result<Vec<Statement>, SplitError> {
    split_str(sql)
        .filter_map(|piece| match piece {
            Ok(Piece::Statement(s)) => Some(Ok(s)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect()
}

/// What [`Splitter::scan_body`] found.
enum End {
    /// The delimiter starts at this index of `buf` (and is followed by `delimiter.len()` bytes).
    Delimiter(usize),
    /// End of input at this index.
    Eof(usize),
}

impl<R: Read> Splitter<R> {
    pub fn new(input: R) -> Self {
        Self::with_chunk_size(input, CHUNK)
    }

    /// A splitter that reads `chunk` bytes at a time (at least 1).
    pub fn with_chunk_size(input: R, chunk: usize) -> Self {
        Splitter {
            input,
            chunk: chunk.max(1),
            buf: Vec::with_capacity(CHUNK),
            start: 0,
            eof: false,
            failed: false,
            delimiter: b";".to_vec(),
            line: 1,
            offset: 0,
            statements: 0,
            at_line_start: true,
            changed_delimiter: None,
        }
    }

    /// The `DELIMITER` line whose delimiter is still in force at end of input (line, delimiter),
    /// if it is not `;`. Meaningful once the iterator is exhausted.
    pub fn changed_delimiter(&self) -> Option<&(u64, String)> {
        self.changed_delimiter.as_ref()
    }

    /// Bytes of input consumed so far (for progress reports).
    pub fn bytes_done(&self) -> u64 {
        self.offset
    }

    /// Appends more input to `buf`. Returns false at end of input. It never moves bytes that
    /// are already in `buf`, so indexes stay valid while a piece is scanned; only [`compact`]
    /// (between pieces) does.
    ///
    /// [`compact`]: Self::compact
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        // `take` + `read_to_end` appends without zero-filling the spare capacity first.
        let n = (&mut self.input)
            .take(self.chunk as u64)
            .read_to_end(&mut self.buf)?;
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Drops the bytes before the current piece so the buffer does not grow with the input.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    /// The byte at `i`, reading more input if needed; None at end of input.
    fn byte_at(&mut self, i: usize) -> Result<Option<u8>, SplitError> {
        while i >= self.buf.len() {
            if !self.fill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[i]))
    }

    fn line_of(&self, i: usize) -> u64 {
        self.line + memchr::memchr_iter(b'\n', &self.buf[self.start..i]).count() as u64
    }

    /// Skips whitespace and plain comments from `i`; returns where significant text starts
    /// (or the end of input).
    fn skip_trivia(&mut self, mut i: usize) -> Result<usize, SplitError> {
        loop {
            if i - self.start >= TRIVIA_FLUSH {
                // Long runs of comments are handed out in parts: only statements are held.
                return Ok(i);
            }
            let Some(b) = self.byte_at(i)? else {
                return Ok(i);
            };
            match b {
                b if is_space(b) => i += 1,
                // A UTF-8 byte order mark at the very start of the input is not text.
                0xEF if i == 0 && self.offset == 0 && self.is_bom()? => i += 3,
                b'#' => i = self.skip_line_comment(i + 1)?,
                // Where a statement would start, `--` is a comment whatever follows it (as in the
                // `mariadb` client; no statement starts with `--`, and `-----` separator lines
                // are common in hand-written scripts).
                b'-' if self.byte_at(i + 1)? == Some(b'-') => i = self.skip_line_comment(i + 2)?,
                b'/' if self.byte_at(i + 1)? == Some(b'*') && !self.is_executable_comment(i)? => {
                    i = self.skip_block_comment(i)?;
                }
                _ => return Ok(i),
            }
        }
    }

    fn is_bom(&mut self) -> Result<bool, SplitError> {
        Ok(self.byte_at(1)? == Some(0xBB) && self.byte_at(2)? == Some(0xBF))
    }

    /// `--` followed by whitespace, a control character or the end of input.
    fn is_dash_comment(&mut self, i: usize) -> Result<bool, SplitError> {
        Ok(self.byte_at(i + 1)? == Some(b'-')
            && match self.byte_at(i + 2)? {
                None => true,
                Some(c) => c <= b' ',
            })
    }

    /// `/*!` or `/*M!` at `i` (which holds `/*`): text the server reads. (An optimizer hint
    /// `/*+ … */` is read by the server too, but the clients scan it as a comment: a delimiter
    /// or a quote inside it does not count.)
    fn is_executable_comment(&mut self, i: usize) -> Result<bool, SplitError> {
        Ok(match self.byte_at(i + 2)? {
            Some(b'!') => true,
            Some(b'M') => self.byte_at(i + 3)? == Some(b'!'),
            _ => false,
        })
    }

    /// From just after `#` or `-- `: returns the index after the line break (or end of input).
    fn skip_line_comment(&mut self, mut i: usize) -> Result<usize, SplitError> {
        loop {
            if let Some(n) = memchr::memchr(b'\n', &self.buf[i.min(self.buf.len())..]) {
                return Ok(i + n + 1);
            }
            i = self.buf.len();
            if !self.fill()? {
                return Ok(i);
            }
        }
    }

    /// From `/*` at `open`: returns the index after `*/`.
    fn skip_block_comment(&mut self, open: usize) -> Result<usize, SplitError> {
        let mut i = open + 2;
        loop {
            if let Some(n) = memchr::memmem::find(&self.buf[i.min(self.buf.len())..], b"*/") {
                return Ok(i + n + 2);
            }
            // Keep the last byte: it may be the `*` of a `*/` split across reads.
            i = self.buf.len().saturating_sub(1).max(open + 2);
            if !self.fill()? {
                return Err(SplitError::Unterminated {
                    what: "comment `/*`",
                    line: self.line_of(open),
                });
            }
        }
    }

    /// From the opening quote at `open`: returns the index after the closing quote.
    fn skip_quoted(&mut self, open: usize) -> Result<usize, SplitError> {
        let q = self.buf[open];
        let mut i = open + 1;
        loop {
            let found = if q == b'`' {
                memchr::memchr(q, &self.buf[i.min(self.buf.len())..])
            } else {
                memchr::memchr2(q, b'\\', &self.buf[i.min(self.buf.len())..])
            };
            match found {
                Some(n) => {
                    let at = i + n;
                    if self.buf[at] == b'\\' {
                        // The escaped byte is taken whatever it is (even a quote).
                        if self.byte_at(at + 1)?.is_none() {
                            break;
                        }
                        i = at + 2;
                    } else if self.byte_at(at + 1)? == Some(q) {
                        i = at + 2; // a doubled quote stands for itself
                    } else {
                        return Ok(at + 1);
                    }
                }
                None => {
                    i = self.buf.len();
                    if !self.fill()? {
                        break;
                    }
                }
            }
        }
        let what = match q {
            b'\'' => "string `'`",
            b'"' => "string `\"`",
            _ => "identifier quote ``` ` ```",
        };
        Err(SplitError::Unterminated {
            what,
            line: self.line_of(open),
        })
    }

    /// Scans a statement body from `i` to the next delimiter (outside quotes and comments) or the
    /// end of input.
    fn scan_body(&mut self, mut i: usize) -> Result<End, SplitError> {
        // Which bytes need a closer look in plain statement text.
        let mut special = [false; 256];
        for b in [b'\'', b'"', b'`', b'-', b'#', b'/', b'*'] {
            special[b as usize] = true;
        }
        let d0 = self.delimiter[0];
        special[d0 as usize] = true;
        // An executable comment `/*! … */` that is open, and the index where it opened.
        let mut exec_open: Option<usize> = None;
        loop {
            // Fast path: skip plain bytes.
            let rest = &self.buf[i.min(self.buf.len())..];
            match rest.iter().position(|&b| special[b as usize]) {
                Some(n) => i += n,
                None => {
                    i = self.buf.len();
                    if !self.fill()? {
                        if let Some(open) = exec_open {
                            return Err(SplitError::Unterminated {
                                what: "comment `/*!`",
                                line: self.line_of(open),
                            });
                        }
                        return Ok(End::Eof(i));
                    }
                    continue;
                }
            }
            let b = self.buf[i];
            if b == d0 && self.delimiter_at(i)? {
                return Ok(End::Delimiter(i));
            }
            match b {
                b'\'' | b'"' | b'`' => i = self.skip_quoted(i)?,
                b'#' => i = self.skip_line_comment(i + 1)?,
                b'-' if self.is_dash_comment(i)? => i = self.skip_line_comment(i + 2)?,
                b'/' if self.byte_at(i + 1)? == Some(b'*') => {
                    if self.is_executable_comment(i)? {
                        if exec_open.is_none() {
                            exec_open = Some(i);
                        }
                        i += 3;
                    } else {
                        i = self.skip_block_comment(i)?;
                    }
                }
                b'*' if exec_open.is_some() && self.byte_at(i + 1)? == Some(b'/') => {
                    exec_open = None;
                    i += 2;
                }
                _ => i += 1,
            }
        }
    }

    fn delimiter_at(&mut self, i: usize) -> Result<bool, SplitError> {
        let n = self.delimiter.len();
        if n > 1 && self.byte_at(i + n - 1)?.is_none() {
            return Ok(false);
        }
        Ok(self.buf[i..i + n] == self.delimiter[..])
    }

    /// If a `DELIMITER` directive starts at `i` (the first significant byte of a piece, at the
    /// start of its line), returns the index after its line and the new delimiter.
    fn directive_at(&mut self, i: usize) -> Result<Option<(usize, Vec<u8>)>, SplitError> {
        const WORD: &[u8] = b"delimiter";
        // Only spaces and tabs may stand between the line start and the word.
        let line_start = self.buf[self.start..i]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(self.start, |p| self.start + p + 1);
        let mut indent = &self.buf[line_start..i];
        if self.offset == 0 && line_start == self.start {
            indent = indent.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(indent);
        }
        let at_line_start = indent.iter().all(|&b| b == b' ' || b == b'\t')
            && (line_start > self.start || self.at_line_start);
        if !at_line_start {
            return Ok(None);
        }
        for (k, w) in WORD.iter().enumerate() {
            match self.byte_at(i + k)? {
                Some(b) if b.to_ascii_lowercase() == *w => {}
                _ => return Ok(None),
            }
        }
        let after = i + WORD.len();
        match self.byte_at(after)? {
            None | Some(b' ' | b'\t' | b'\r' | b'\n') => {}
            Some(_) => return Ok(None), // e.g. `DELIMITERS` or `delimiter_table`
        }
        let end = self.skip_line_comment(after)?; // index after the line break
        let line = &self.buf[after..end];
        let arg: Vec<u8> = line
            .split(|&b| is_space(b))
            .find(|w| !w.is_empty())
            .map(|w| unquote(w).to_vec())
            .unwrap_or_default();
        let line_no = self.line_of(i);
        if arg.is_empty() {
            return Err(SplitError::DelimiterMissing { line: line_no });
        }
        if arg.contains(&b'\\') {
            return Err(SplitError::DelimiterBackslash { line: line_no });
        }
        Ok(Some((end, arg)))
    }

    /// Cuts `buf[start..end]` off as the raw text of a piece.
    fn take_raw(&mut self, end: usize) -> Result<String, SplitError> {
        let bytes = &self.buf[self.start..end];
        let raw = match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(e) => {
                return Err(SplitError::InvalidUtf8 {
                    offset: self.offset + e.valid_up_to() as u64,
                });
            }
        };
        self.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
        if let Some(&last) = bytes.last() {
            self.at_line_start = last == b'\n';
        }
        self.offset += bytes.len() as u64;
        self.start = end;
        Ok(raw)
    }

    fn next_piece(&mut self) -> Result<Option<Piece>, SplitError> {
        if self.start >= self.buf.len() {
            self.compact();
            if !self.fill()? {
                return Ok(None);
            }
        } else if self.start > self.chunk {
            self.compact();
        }
        let body_start = self.skip_trivia(self.start)?;
        if body_start >= self.buf.len() || body_start - self.start >= TRIVIA_FLUSH {
            // Only comments and whitespace up to the end of input, or a long run of them.
            let raw = self.take_raw(body_start)?;
            return Ok(Some(Piece::Trivia { raw }));
        }
        if let Some((end, delimiter)) = self.directive_at(body_start)? {
            let line = self.line_of(body_start);
            self.changed_delimiter = (delimiter != b";")
                .then(|| (line, String::from_utf8_lossy(&delimiter).into_owned()));
            self.delimiter = delimiter;
            let raw = self.take_raw(end)?;
            let delimiter = String::from_utf8_lossy(&self.delimiter).into_owned();
            return Ok(Some(Piece::Delimiter {
                raw,
                line,
                delimiter,
            }));
        }
        let (body_end, piece_end) = match self.scan_body(body_start)? {
            End::Delimiter(d) => (d, d + self.delimiter.len()),
            End::Eof(e) => (e, e),
        };
        if body_end == body_start {
            // A delimiter with nothing before it: `;;`.
            let raw = self.take_raw(piece_end)?;
            return Ok(Some(Piece::Trivia { raw }));
        }
        let trimmed_end = body_start
            + self.buf[body_start..body_end]
                .iter()
                .rposition(|&b| !is_space(b))
                .map_or(0, |p| p + 1);
        let line = self.line_of(body_start);
        let base = self.start;
        let default_delimiter = self.delimiter == b";";
        let raw = self.take_raw(piece_end)?;
        let body = (body_start - base)..(trimmed_end - base);
        let kind = classify(&raw[body.clone()]);
        self.statements += 1;
        let lf = raw[body.clone()]
            .contains("\r\n")
            .then(|| raw[body.clone()].replace("\r\n", "\n"));
        Ok(Some(Piece::Statement(Statement {
            raw,
            body,
            line,
            number: self.statements,
            kind,
            default_delimiter,
            lf,
        })))
    }
}

/// Whitespace between and around statements: the client's (C `isspace`), which unlike
/// [`u8::is_ascii_whitespace`] includes the vertical tab.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// `'$$'`, `"$$"` and `` `$$` `` mean `$$`, as in the client.
fn unquote(word: &[u8]) -> &[u8] {
    match word {
        [q @ (b'\'' | b'"' | b'`'), inner @ .., last] if last == q && !inner.is_empty() => inner,
        _ => word,
    }
}

impl<R: Read> Iterator for Splitter<R> {
    type Item = Result<Piece, SplitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_piece() {
            Ok(Some(piece)) => Some(Ok(piece)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests;
