//! Seed files: their run mode (a first-lines comment, SPEC §8) and their checksum, read
//! without holding the file in memory (seeds run to gigabytes).

use std::fs::File;
use std::io::{self, Read};

use super::SqlFile;
use super::checksum::{Checksum, Hasher};
use crate::error::Error;
use crate::sql::SplitError;

/// One seed script on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFile {
    /// Path relative to the seeds folder with `/` separators: its key in the seeds ledger.
    pub key: String,
    pub file: SqlFile,
}

/// How often a seed runs (its first-lines comment `-- dbtool:run MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every `seed:run` (Knex's behaviour, the default).
    Always,
    /// Only if it never ran on this database.
    Once,
    /// When new, or when its checksum changed since it last ran.
    OnChange,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Always => "always",
            Mode::Once => "once",
            Mode::OnChange => "on-change",
        }
    }
}

/// Reads the run mode from the comment lines at the top of a seed. An unknown mode gives its
/// line and word.
pub fn read_mode(head: &str) -> Result<Mode, (u64, String)> {
    for (i, line) in head.lines().enumerate() {
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--").or_else(|| line.strip_prefix('#')) else {
            break; // the first statement: the header is over
        };
        if let Some(rest) = comment.trim().strip_prefix("dbtool:run") {
            let word = rest.split_whitespace().next().unwrap_or("");
            return match word.to_ascii_lowercase().as_str() {
                "always" => Ok(Mode::Always),
                "once" => Ok(Mode::Once),
                "on-change" | "onchange" | "on_change" => Ok(Mode::OnChange),
                _ => Err((i as u64 + 1, word.to_owned())),
            };
        }
    }
    Ok(Mode::Always)
}

impl SeedFile {
    /// The seed's run mode, from its first 4 KiB.
    pub(crate) fn mode(&self) -> Result<Mode, Error> {
        let mut head = vec![0u8; 4096];
        let mut f = File::open(&self.file.path).map_err(|e| Error::io(&self.file.display, e))?;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.file.display, e)),
            }
        }
        let head = String::from_utf8_lossy(&head[..n]);
        read_mode(&head).map_err(|(line, word)| Error::SeedMode {
            path: self.file.display.clone(),
            line,
            word,
        })
    }

    /// Hashes the whole file, checking on the way that it is UTF-8 (the first bad byte's
    /// offset is reported before anything runs).
    pub(crate) fn checksum(&self) -> Result<Checksum, Error> {
        let path = &self.file.display;
        let mut f = File::open(&self.file.path).map_err(|e| Error::io(path, e))?;
        let mut h = Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut carry: Vec<u8> = Vec::new();
        let mut offset: u64 = 0;
        let bad = |offset| Error::Split {
            path: path.clone(),
            source: SplitError::InvalidUtf8 { offset },
        };
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(path, e)),
            };
            h.update(&buf[..n]);
            // UTF-8 across chunk boundaries: an incomplete character at the end is carried.
            let mut chunk = std::mem::take(&mut carry);
            chunk.extend_from_slice(&buf[..n]);
            match std::str::from_utf8(&chunk) {
                Ok(_) => offset += chunk.len() as u64,
                Err(e) if e.error_len().is_none() => {
                    let good = e.valid_up_to();
                    offset += good as u64;
                    carry = chunk[good..].to_vec();
                }
                Err(e) => return Err(bad(offset + e.valid_up_to() as u64)),
            }
        }
        if !carry.is_empty() {
            return Err(bad(offset));
        }
        Ok(h.finish())
    }
}

/// A reader that hashes what passes through it (a seed's checksum, computed while it streams
/// to the server).
pub struct Hashing<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Hasher::new(),
        }
    }

    pub fn finish(self) -> Checksum {
        self.hasher.finish()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_modes_come_from_the_first_comment_lines() {
        assert_eq!(read_mode("-- dbtool:run once\nINSERT 1;"), Ok(Mode::Once));
        assert_eq!(
            read_mode("\n-- a seed\n--   dbtool:run   on-change\n"),
            Ok(Mode::OnChange)
        );
        assert_eq!(read_mode("# dbtool:run always\n"), Ok(Mode::Always));
        assert_eq!(
            read_mode("INSERT 1;\n-- dbtool:run once\n"),
            Ok(Mode::Always)
        );
        assert_eq!(read_mode(""), Ok(Mode::Always));
        assert_eq!(read_mode("\u{feff}-- dbtool:run once"), Ok(Mode::Once));
        assert_eq!(
            read_mode("-- x\n-- dbtool:run sometimes\n"),
            Err((2, "sometimes".into()))
        );
    }
}
