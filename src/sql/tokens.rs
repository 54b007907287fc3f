//! A statement's tokens as the server reads them: words, backquoted identifiers, strings,
//! numbers and punctuation, with their byte spans and parenthesis depth. Comments are skipped;
//! the text of an executable comment (`/*!50100 … */`, `/*M! … */`) is read as code, as the
//! server reads it, and optimizer hints (`/*+ … */`) are skipped like comments.
//!
//! It is what `--explain` needs to find a statement's table and clauses and to insert
//! `ALGORITHM=…` at a place the server accepts, not a parser: it never fails, it only tells
//! tokens apart.

use std::ops::Range;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A bare word: a keyword or an unquoted identifier.
    Word,
    /// A `` `backquoted` `` identifier.
    Quoted,
    /// A `'…'` or `"…"` string.
    Str,
    Number,
    /// Any other byte (`(`, `)`, `,`, `.`, `=`, `@`, …).
    Punct(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Range<usize>,
    /// How many parentheses are open around it (a `(` or `)` counts outside itself).
    pub(crate) depth: u32,
}

impl Token {
    /// A word or a quoted identifier: something that can name a table.
    pub(crate) fn is_name(&self) -> bool {
        matches!(self.tok, Tok::Word | Tok::Quoted)
    }

    /// A bare word equal to `w` (ASCII case-insensitive).
    pub(crate) fn is_word(&self, sql: &str, w: &str) -> bool {
        self.tok == Tok::Word && sql[self.span.clone()].eq_ignore_ascii_case(w)
    }

    /// The name a word or quoted identifier stands for (a quoted one without its backquotes,
    /// doubled backquotes read as one).
    pub(crate) fn name(&self, sql: &str) -> String {
        let text = &sql[self.span.clone()];
        match self.tok {
            Tok::Quoted => text
                .strip_prefix('`')
                .map(|t| t.strip_suffix('`').unwrap_or(t))
                .unwrap_or(text)
                .replace("``", "`"),
            _ => text.to_owned(),
        }
    }
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// The tokens of `sql`.
pub(crate) fn tokens(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut depth, mut executable) = (0usize, 0u32, 0u32);
    while i < b.len() {
        let c = b[i];
        let start = i;
        let tok = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'#' => {
                i = line_end(b, i);
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|x| x.is_ascii_whitespace()) =>
            {
                i = line_end(b, i);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                match (b.get(i + 2), b.get(i + 3)) {
                    (Some(b'!'), _) | (Some(b'M'), Some(b'!')) => {
                        i += if b[i + 2] == b'!' { 3 } else { 4 };
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                        executable += 1;
                    }
                    _ => i = sql[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2),
                }
                continue;
            }
            b'*' if executable > 0 && b.get(i + 1) == Some(&b'/') => {
                executable -= 1;
                i += 2;
                continue;
            }
            b'\'' | b'"' | b'`' => {
                i = skip_quoted(b, i);
                if c == b'`' { Tok::Quoted } else { Tok::Str }
            }
            _ if c.is_ascii_digit() => {
                i = number_end(b, i);
                Tok::Number
            }
            _ if is_word_byte(c) => {
                while i < b.len() && is_word_byte(b[i]) {
                    i += 1;
                }
                Tok::Word
            }
            _ => {
                i += 1;
                Tok::Punct(c)
            }
        };
        if tok == Tok::Punct(b')') {
            depth = depth.saturating_sub(1);
        }
        out.push(Token {
            tok,
            span: start..i,
            depth,
        });
        if tok == Tok::Punct(b'(') {
            depth += 1;
        }
    }
    out
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&x| x == b'\n')
        .map_or(b.len(), |p| i + p)
}

/// The end of a number starting at `i` (`12`, `1.5`, `2e10`); digits followed by letters
/// (`1abc`, an identifier MySQL allows) are a word.
fn number_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && is_word_byte(b[i]) {
        // An identifier that starts with digits, or an exponent: both end where the word does.
        while i < b.len() && (is_word_byte(b[i]) || (b[i] == b'-' && b[i - 1] == b'e')) {
            i += 1;
        }
    }
    i
}

/// The index after the quoted text starting at `open` (doubled quotes and, in strings,
/// backslashes escape).
pub(crate) fn skip_quoted(b: &[u8], open: usize) -> usize {
    let q = b[open];
    let mut i = open + 1;
    while i < b.len() {
        if b[i] == b'\\' && q != b'`' {
            i += 2;
            continue;
        }
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<(String, u32)> {
        tokens(sql)
            .iter()
            .map(|t| (sql[t.span.clone()].to_owned(), t.depth))
            .collect()
    }

    #[test]
    fn comments_go_quotes_stay_whole_and_executable_comments_are_code() {
        let sql = "ALTER TABLE `a``b` -- x\n ADD c INT DEFAULT 'it''s', # y\n \
                   /* z */ ADD d DECIMAL(10,2) DEFAULT 1.5 /*!50100 PARTITION BY HASH(id) */";
        let got: Vec<String> = texts(sql).into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            got,
            [
                "ALTER",
                "TABLE",
                "`a``b`",
                "ADD",
                "c",
                "INT",
                "DEFAULT",
                "'it''s'",
                ",",
                "ADD",
                "d",
                "DECIMAL",
                "(",
                "10",
                ",",
                "2",
                ")",
                "DEFAULT",
                "1.5",
                "PARTITION",
                "BY",
                "HASH",
                "(",
                "id",
                ")"
            ]
        );
        let t = tokens(sql);
        assert_eq!(t[2].name(sql), "a`b");
        assert_eq!(t[2].tok, Tok::Quoted);
    }

    #[test]
    fn depth_counts_the_parentheses_around_a_token() {
        let got = texts("f(a, (b)) c");
        assert_eq!(
            got,
            [
                ("f".into(), 0),
                ("(".into(), 0),
                ("a".into(), 1),
                (",".into(), 1),
                ("(".into(), 1),
                ("b".into(), 2),
                (")".into(), 1),
                (")".into(), 0),
                ("c".into(), 0)
            ]
        );
    }

    #[test]
    fn a_name_with_leading_digits_is_one_word() {
        let sql = "ALTER TABLE 1abc ADD x INT DEFAULT 2e-3";
        let got: Vec<String> = texts(sql).into_iter().map(|(t, _)| t).collect();
        assert_eq!(got[2], "1abc");
        assert_eq!(got.last().map(String::as_str), Some("2e-3"));
    }
}
