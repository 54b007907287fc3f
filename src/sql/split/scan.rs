//! The splitter's scanners: trivia (whitespace and comments), quoted text, a statement's body
//! up to the delimiter, and `DELIMITER` lines. Each takes an index into the window of input and
//! returns where what it scanned ends, reading more input as it needs.

use std::io::Read;

use super::{End, SplitError, Splitter, TRIVIA_FLUSH, is_space, unquote};

impl<R: Read> Splitter<R> {
    /// Skips whitespace and plain comments from `i`; returns where significant text starts
    /// (or the end of input).
    pub(super) fn skip_trivia(&mut self, mut i: usize) -> Result<usize, SplitError> {
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

    pub(super) fn is_bom(&mut self) -> Result<bool, SplitError> {
        Ok(self.byte_at(1)? == Some(0xBB) && self.byte_at(2)? == Some(0xBF))
    }

    /// `--` followed by whitespace, a control character or the end of input.
    pub(super) fn is_dash_comment(&mut self, i: usize) -> Result<bool, SplitError> {
        Ok(self.byte_at(i + 1)? == Some(b'-')
            && match self.byte_at(i + 2)? {
                None => true,
                Some(c) => c <= b' ',
            })
    }

    /// `/*!` or `/*M!` at `i` (which holds `/*`): text the server reads. (An optimizer hint
    /// `/*+ … */` is read by the server too, but the clients scan it as a comment: a delimiter
    /// or a quote inside it does not count.)
    pub(super) fn is_executable_comment(&mut self, i: usize) -> Result<bool, SplitError> {
        Ok(match self.byte_at(i + 2)? {
            Some(b'!') => true,
            Some(b'M') => self.byte_at(i + 3)? == Some(b'!'),
            _ => false,
        })
    }

    /// From just after `#` or `-- `: returns the index after the line break (or end of input).
    pub(super) fn skip_line_comment(&mut self, mut i: usize) -> Result<usize, SplitError> {
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
    pub(super) fn skip_block_comment(&mut self, open: usize) -> Result<usize, SplitError> {
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
    pub(super) fn skip_quoted(&mut self, open: usize) -> Result<usize, SplitError> {
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
    pub(super) fn scan_body(&mut self, mut i: usize) -> Result<End, SplitError> {
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

    pub(super) fn delimiter_at(&mut self, i: usize) -> Result<bool, SplitError> {
        let n = self.delimiter.len();
        if n > 1 && self.byte_at(i + n - 1)?.is_none() {
            return Ok(false);
        }
        Ok(self.buf[i..i + n] == self.delimiter[..])
    }

    /// If a `DELIMITER` directive starts at `i` (the first significant byte of a piece, at the
    /// start of its line), returns the index after its line and the new delimiter.
    pub(super) fn directive_at(
        &mut self,
        i: usize,
    ) -> Result<Option<(usize, Vec<u8>)>, SplitError> {
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
}
