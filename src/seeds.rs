//! Seeds: rerunnable SQL scripts under `db/seeds/`, each run in one transaction with its ledger
//! row (SPEC §5, §8).
//!
//! A seed streams through the splitter (only one statement and one packet are held, whatever
//! the file's size); runs of simple writes travel as multi-statement packets inside the seed's
//! transaction, so a seed of 20,000 INSERTs costs a handful of round trips and one commit.
//! A statement that commits implicitly (TRUNCATE, DDL) cannot be undone: the seed still runs,
//! with a warning, and a new transaction starts after it so the rest stays atomic.

use std::fs::File;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use mysql_async::Value;
use mysql_async::prelude::Queryable;

use crate::db::exec::{FailedAt, PushError, Sender};
use crate::db::ledger::TOOL_VERSION;
use crate::db::{Db, DbError, Tables};
use crate::error::{Error, FailureContext, StatementFailure};
use crate::files::checksum::{ALGO, Hasher};
use crate::files::{Checksum, SeedFile};
use crate::sql::{Kind, Piece, SplitError, Splitter};

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

/// Reads the run mode from the comment lines at the top of a seed. Returns the mode and, for
/// an unknown one, the line and word.
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

/// A seed on disk with what a run needs to know about it.
#[derive(Debug, Clone)]
pub struct SeedInfo {
    pub seed: SeedFile,
    pub mode: Mode,
    /// Its checksum, when it was computed before the run (status, on-change, --changed).
    pub checksum: Option<Checksum>,
}

/// Reads the mode of a seed (its first 4 KiB).
pub fn mode_of(seed: &SeedFile) -> Result<Mode, Error> {
    let mut head = vec![0u8; 4096];
    let mut f = File::open(&seed.file.path).map_err(|e| Error::io(&seed.file.display, e))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(&seed.file.display, e)),
        }
    }
    let head = String::from_utf8_lossy(&head[..n]);
    read_mode(&head).map_err(|(line, word)| {
        Error::Plan(format!(
            "{}:{line}: unknown run mode `{word}` in `-- dbtool:run`: expected always, once or \
             on-change",
            seed.file.display
        ))
    })
}

/// Hashes a whole seed file, checking that it is UTF-8 on the way (its first bad byte's
/// offset is reported before anything runs).
pub fn checksum_of(seed: &SeedFile) -> Result<Checksum, Error> {
    let mut f = File::open(&seed.file.path).map_err(|e| Error::io(&seed.file.display, e))?;
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    let mut offset: u64 = 0;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(&seed.file.display, e)),
        };
        h.update(&buf[..n]);
        // UTF-8 check across chunk boundaries: an incomplete character at the end is carried.
        let mut chunk = std::mem::take(&mut carry);
        chunk.extend_from_slice(&buf[..n]);
        let base = offset;
        match std::str::from_utf8(&chunk) {
            Ok(_) => offset += chunk.len() as u64,
            Err(e) if e.error_len().is_none() => {
                let good = e.valid_up_to();
                offset += good as u64;
                carry = chunk[good..].to_vec();
            }
            Err(e) => {
                return Err(Error::Sql {
                    path: seed.file.display.clone(),
                    source: SplitError::InvalidUtf8 {
                        offset: base + e.valid_up_to() as u64,
                    },
                });
            }
        }
    }
    if !carry.is_empty() {
        return Err(Error::Sql {
            path: seed.file.display.clone(),
            source: SplitError::InvalidUtf8 { offset },
        });
    }
    Ok(h.finish())
}

/// A reader that hashes what passes through it and counts the bytes.
struct Hashing<R> {
    inner: R,
    hasher: Hasher,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// What a seed run did.
#[derive(Debug, Clone)]
pub struct SeedDone {
    pub key: String,
    pub statements: u32,
    pub duration: Duration,
    pub checksum: Checksum,
}

/// Progress callbacks for long seeds: (bytes read, statements sent).
pub type OnProgress<'a> = &'a mut dyn FnMut(u64, u32);

/// Runs one seed in a transaction with its ledger row. `row_exists`: the seeds ledger has a
/// row for it (update it) or not (insert one).
pub async fn run_seed(
    db: &mut Db,
    t: &Tables,
    seed: &SeedFile,
    row_exists: bool,
    batch_bytes: usize,
    progress: OnProgress<'_>,
) -> Result<SeedDone, Error> {
    let started = Instant::now();
    let max = db
        .max_packet()
        .await
        .map_err(|e| Error::db("reading max_allowed_packet", e))?;
    let file = File::open(&seed.file.path).map_err(|e| Error::io(&seed.file.display, e))?;
    let mut hashing = Hashing {
        inner: file,
        hasher: Hasher::new(),
        bytes: 0,
    };
    let mut reader = Splitter::new(&mut hashing);
    let path = &seed.file.display;
    db.set_vars(&[
        ("dbtool_seed_path".into(), Value::from(seed.key.as_str())),
        ("dbtool_tv".into(), Value::from(TOOL_VERSION)),
        ("dbtool_algo".into(), Value::from(ALGO)),
    ])
    .await
    .map_err(|e| Error::db("preparing the seed's ledger row", e))?;

    let names = vec![
        t.seeds_name.as_str().to_owned(),
        t.log_name.as_str().to_owned(),
    ];
    let mut sender = Sender::new(db, batch_bytes.min(max / 2), max, names, path);
    let mut implicit = false;
    let mut count = 0u32;
    let mut reported = 0u64;
    let outcome: Result<(), SeedStop> = async {
        sender
            .ours("SET @dbtool_seed_s = UTC_TIMESTAMP(6)")
            .await
            .map_err(SeedStop::Send)?;
        sender
            .ours("START TRANSACTION")
            .await
            .map_err(SeedStop::Send)?;
        while let Some(piece) = reader.next() {
            let Piece::Statement(stmt) = piece.map_err(SeedStop::Split)? else {
                continue;
            };
            count = stmt.number;
            if stmt.kind == Kind::ImplicitCommit {
                implicit = true;
                let hint = if stmt
                    .sql()
                    .trim_start()
                    .to_ascii_uppercase()
                    .starts_with("TRUNCATE")
                {
                    "; use DELETE FROM to empty a table inside the seed's transaction"
                } else {
                    ""
                };
                tracing::warn!(
                    "{path}:{}: statement {} commits implicitly, so this seed cannot be atomic: \
                     what ran before it is kept even if a later statement fails{hint}",
                    stmt.line,
                    stmt.number
                );
            }
            sender.user(&stmt).await.map_err(SeedStop::Push)?;
            if stmt.kind == Kind::ImplicitCommit {
                // What follows runs in a new transaction, with the ledger row.
                sender
                    .ours("START TRANSACTION")
                    .await
                    .map_err(SeedStop::Send)?;
            }
            // Report every MiB read (the callback redraws a bar; not per statement).
            let done = reader.bytes_done();
            if done >= reported + (1 << 20) {
                reported = done;
                progress(done, count);
            }
        }
        if let Some((line, delim)) = reader.changed_delimiter() {
            tracing::warn!(
                "{path}:{line}: `DELIMITER {delim}` is still in force at the end of the file \
                 (add `DELIMITER ;` after the statements that need it)"
            );
        }
        Ok(())
    }
    .await;
    if let Err(stop) = outcome {
        drop(sender);
        return Err(seed_error(db, path, stop, implicit).await);
    }
    drop(reader);
    let checksum = std::mem::take(&mut hashing.hasher).finish();
    progress(0, count);
    // The ledger row and the log entry commit with the seed.
    let upsert = if row_exists {
        format!(
            "UPDATE {s} SET checksum = @dbtool_seed_ck, checksum_algo = @dbtool_algo, \
             last_run_at = UTC_TIMESTAMP(6), run_count = run_count + 1, \
             duration_ms = GREATEST(0, TIMESTAMPDIFF(MICROSECOND, @dbtool_seed_s, UTC_TIMESTAMP(6)) DIV 1000), \
             run_by = USER(), tool_version = @dbtool_tv WHERE path = @dbtool_seed_path",
            s = t.seeds
        )
    } else {
        format!(
            "INSERT INTO {s} (path, checksum, checksum_algo, first_run_at, last_run_at, run_count, \
             duration_ms, run_by, tool_version) VALUES (@dbtool_seed_path, @dbtool_seed_ck, \
             @dbtool_algo, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), 1, \
             GREATEST(0, TIMESTAMPDIFF(MICROSECOND, @dbtool_seed_s, UTC_TIMESTAMP(6)) DIV 1000), \
             USER(), @dbtool_tv)",
            s = t.seeds
        )
    };
    let log = format!(
        "INSERT INTO {l} (at, action, version, name, seed, checksum, batch, outcome, duration_ms, \
         actor, tool_version) VALUES (UTC_TIMESTAMP(6), 'seed_run', NULL, NULL, @dbtool_seed_path, \
         @dbtool_seed_ck, NULL, CONCAT('statements: ', @dbtool_seed_n), \
         GREATEST(0, TIMESTAMPDIFF(MICROSECOND, @dbtool_seed_s, UTC_TIMESTAMP(6)) DIV 1000), \
         USER(), @dbtool_tv)",
        l = t.log
    );
    let result = async {
        sender
            .set_vars(&[
                ("dbtool_seed_ck".into(), Value::from(checksum.to_string())),
                ("dbtool_seed_n".into(), Value::from(count)),
            ])
            .await
            .map_err(|e| {
                SeedStop::Send(crate::db::exec::SendFailure {
                    at: FailedAt::Ours,
                    error: e,
                })
            })?;
        sender
            .finish(&[&upsert, &log, "COMMIT"])
            .await
            .map_err(SeedStop::Send)
    }
    .await;
    drop(sender);
    if let Err(stop) = result {
        return Err(seed_error(db, path, stop, implicit).await);
    }
    Ok(SeedDone {
        key: seed.key.clone(),
        statements: count,
        duration: started.elapsed(),
        checksum,
    })
}

enum SeedStop {
    Split(SplitError),
    Push(PushError),
    Send(crate::db::exec::SendFailure),
}

async fn seed_error(db: &mut Db, path: &str, stop: SeedStop, implicit: bool) -> Error {
    let lost = matches!(&stop, SeedStop::Push(PushError::Send(f)) | SeedStop::Send(f) if f.error.is_lost());
    if !lost {
        let _ = db.conn.query_drop("ROLLBACK").await;
    }
    let failure = match stop {
        SeedStop::Split(source) => {
            return Error::Sql {
                path: path.to_owned(),
                source,
            };
        }
        SeedStop::Push(PushError::TooLarge(t)) => {
            return Error::TooLarge {
                path: path.to_owned(),
                line: t.line,
                number: t.number,
                size: t.size,
                max: t.max,
            };
        }
        SeedStop::Push(PushError::Send(f)) | SeedStop::Send(f) => f,
    };
    match failure.at {
        FailedAt::User { number, line } => Error::Statement(Box::new(StatementFailure {
            path: path.to_owned(),
            line,
            number,
            total: None,
            error: failure.error,
            context: FailureContext::Seed {
                implicit_commits: implicit,
            },
        })),
        FailedAt::Ours | FailedAt::After => Error::db("writing the seeds ledger", failure.error),
    }
}

impl From<DbError> for SeedStop {
    fn from(error: DbError) -> Self {
        SeedStop::Send(crate::db::exec::SendFailure {
            at: FailedAt::Ours,
            error,
        })
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
