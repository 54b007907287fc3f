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

use super::classify::classify;

mod pieces;
mod scan;
pub use pieces::{Piece, SplitError, Statement};

/// How much is read from the input at a time.
const CHUNK: usize = 64 * 1024;

/// Comments and blank lines before a statement are handed out as a [`Piece::Trivia`] of their
/// own once they pass this size, so a file of mostly comments streams in constant memory.
const TRIVIA_FLUSH: usize = 64 * 1024;

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

    /// The input, once splitting is done (a hashing reader's checksum, say).
    pub fn into_inner(self) -> R {
        self.input
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
mod properties;
#[cfg(test)]
mod tests;
