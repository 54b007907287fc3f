//! File checksums (SPEC §3) and the prefix checksum of a migration's done statements (§7).
//!
//! `checksum = lowercase hex SHA-256` of a file's bytes after dropping a leading UTF-8 byte
//! order mark and turning CRLF and lone CR into LF. Nothing else is normalised: any other edit
//! is drift. So a checkout with `core.autocrlf` computes the same checksum as one without, and
//! an editor that adds a BOM does not make a migration "modified".
//!
//! The rule is pinned: checksums already stored in users' ledgers were computed with it, so
//! changing it would report every applied migration as modified. The ledger stores the
//! algorithm's id ([`ALGO`]) beside each checksum; a new rule would get a new id and an upgrade
//! path, never a silent change.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The id of the rule above, stored in the ledger's `checksum_algo` column.
pub const ALGO: &str = "sha256-lf-v1";

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A SHA-256 checksum, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    /// The 64 lowercase hex digits.
    pub fn hex(&self) -> [u8; 64] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[(b >> 4) as usize];
            out[2 * i + 1] = DIGITS[(b & 15) as usize];
        }
        out
    }

    /// The first 12 hex digits, as shown in drift reports.
    pub fn short(&self) -> String {
        let mut s = self.to_string();
        s.truncate(12);
        s
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex();
        f.write_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"))
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({self})")
    }
}

/// A checksum text that is not 64 lowercase hex digits (e.g. a hand-edited ledger row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 checksum (64 lowercase hex digits): {0:?}")]
pub struct BadChecksum(pub String);

impl FromStr for Checksum {
    type Err = BadChecksum;

    fn from_str(s: &str) -> Result<Self, BadChecksum> {
        let bad = || BadChecksum(s.chars().take(80).collect());
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hex = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            out[i] = hex(pair[0])
                .zip(hex(pair[1]))
                .map(|(h, l)| h << 4 | l)
                .ok_or_else(bad)?;
        }
        Ok(Checksum(out))
    }
}

/// Computes a file checksum from the file's bytes fed in any number of pieces.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    /// The first bytes, held until we know whether they are a byte order mark.
    head: Vec<u8>,
    head_done: bool,
    /// The last byte fed was a CR, so a LF that follows belongs to it.
    after_cr: bool,
}

impl Hasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        if !self.head_done {
            let need = BOM.len() - self.head.len();
            let take = need.min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.head.len() < BOM.len() {
                return;
            }
            self.head_done = true;
            let head = std::mem::take(&mut self.head);
            if head != BOM {
                self.normalize(&head);
            }
        }
        self.normalize(bytes);
    }

    /// Feeds `bytes` with CRLF and lone CR turned into LF.
    fn normalize(&mut self, mut bytes: &[u8]) {
        if self.after_cr && !bytes.is_empty() {
            // The LF of a CRLF split across two pieces.
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
            self.after_cr = false;
        }
        while let Some(cr) = memchr::memchr(b'\r', bytes) {
            self.sha.update(&bytes[..cr]);
            self.sha.update(b"\n");
            bytes = &bytes[cr + 1..];
            match bytes.first() {
                Some(b'\n') => bytes = &bytes[1..],
                Some(_) => {}
                None => self.after_cr = true,
            }
        }
        self.sha.update(bytes);
    }

    pub fn finish(mut self) -> Checksum {
        if !self.head_done {
            let head = std::mem::take(&mut self.head);
            if head != BOM {
                self.normalize(&head);
            }
        }
        Checksum(self.sha.finalize().into())
    }
}

/// The checksum of a whole file's bytes.
pub fn checksum(bytes: &[u8]) -> Checksum {
    let mut h = Hasher::new();
    h.update(bytes);
    h.finish()
}

/// The checksum of the first statements of a migration, stored as `prefix_checksum` while a
/// migration is part-way (SPEC §7). It covers the statements' text only (not the comments and
/// blank lines between them), each with its line breaks normalised as in [`checksum`] and
/// prefixed by its length, so editing a comment does not block a resume but editing a done
/// statement does.
#[derive(Clone, Default)]
pub struct PrefixHasher {
    sha: Sha256,
}

impl PrefixHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, statement: &str) {
        let mut h = Hasher::new();
        h.update(statement.as_bytes());
        // The statement's own normalised digest stands for it: fixed length, unambiguous.
        self.sha.update(h.finish().0);
    }

    /// The checksum of the statements added so far.
    pub fn current(&self) -> Checksum {
        Checksum(self.sha.clone().finalize().into())
    }
}

/// The prefix checksum of `statements`.
pub fn prefix_checksum<'a>(statements: impl IntoIterator<Item = &'a str>) -> Checksum {
    let mut h = PrefixHasher::new();
    for s in statements {
        h.add(s);
    }
    h.current()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_value() {
        assert_eq!(
            checksum(b"SELECT 1;\n").0,
            <[u8; 32]>::from(Sha256::digest(b"SELECT 1;\n"))
        );
        assert_eq!(
            checksum(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn bom_and_line_endings_do_not_count() {
        let lf = checksum(b"CREATE TABLE t (a INT);\nDROP TABLE t;\n");
        assert_eq!(
            checksum(b"CREATE TABLE t (a INT);\r\nDROP TABLE t;\r\n"),
            lf
        );
        assert_eq!(checksum(b"CREATE TABLE t (a INT);\rDROP TABLE t;\r"), lf);
        assert_eq!(
            checksum(b"\xEF\xBB\xBFCREATE TABLE t (a INT);\r\nDROP TABLE t;\n"),
            lf
        );
        // anything else does
        assert_ne!(checksum(b"CREATE TABLE t (a INT);\nDROP TABLE t;"), lf);
        assert_ne!(checksum(b"CREATE TABLE t (a INT) ;\nDROP TABLE t;\n"), lf);
        // a BOM anywhere but the start is text
        assert_ne!(checksum(b"\n\xEF\xBB\xBF"), checksum(b"\n"));
        // short inputs
        assert_eq!(checksum(b"\xEF\xBB\xBF"), checksum(b""));
        assert_eq!(checksum(b"\r"), checksum(b"\n"));
        assert_ne!(checksum(b"\xEF\xBB"), checksum(b""));
    }

    /// Found by the proptest below: `aa\r` + `\n` + `\n` swallowed the second LF.
    #[test]
    fn a_crlf_split_across_pieces_eats_one_lf_only() {
        let mut h = Hasher::new();
        for piece in [&b"aa\r"[..], b"\n", b"\n"] {
            h.update(piece);
        }
        assert_eq!(h.finish(), checksum(b"aa\n\n"));
    }

    #[test]
    fn parses_its_own_text_and_rejects_others() {
        let c = checksum(b"x");
        assert_eq!(c.to_string().parse::<Checksum>(), Ok(c));
        assert!("abc".parse::<Checksum>().is_err());
        assert!(c.to_string().to_uppercase().parse::<Checksum>().is_err());
        assert_eq!(c.short().len(), 12);
    }

    #[test]
    fn prefix_checksum_ignores_line_endings_but_not_text() {
        let a = prefix_checksum(["CREATE TABLE a (\n x INT)", "DROP TABLE b"]);
        assert_eq!(
            a,
            prefix_checksum(["CREATE TABLE a (\r\n x INT)", "DROP TABLE b"])
        );
        assert_ne!(
            a,
            prefix_checksum(["CREATE TABLE a (\n x INT)", "DROP TABLE c"])
        );
        assert_ne!(
            a,
            prefix_checksum(["CREATE TABLE a (\n x INT)DROP TABLE b"])
        );
        assert_ne!(prefix_checksum(["ab", "c"]), prefix_checksum(["a", "bc"]));
    }

    proptest! {
        /// Feeding a file in pieces gives the same checksum as feeding it whole.
        #[test]
        fn pieces_do_not_matter(
            bytes in prop::collection::vec(prop::sample::select(vec![b'a', b'\r', b'\n', 0xEF, 0xBB, 0xBF]), 0..64),
            cuts in prop::collection::vec(0usize..64, 0..6),
        ) {
            let whole = checksum(&bytes);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort();
            let mut h = Hasher::new();
            let mut at = 0;
            for c in cuts {
                h.update(&bytes[at..c]);
                at = c;
            }
            h.update(&bytes[at..]);
            prop_assert_eq!(h.finish(), whole);
        }

        /// CRLF and CR normalise to the same checksum as LF.
        #[test]
        fn crlf_is_lf(lines in prop::collection::vec("[a-z ;']{0,10}", 0..8)) {
            let lf = lines.join("\n");
            prop_assert_eq!(checksum(lines.join("\r\n").as_bytes()), checksum(lf.as_bytes()));
            prop_assert_eq!(checksum(lines.join("\r").as_bytes()), checksum(lf.as_bytes()));
        }
    }
}
