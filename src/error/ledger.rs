//! The message of a ledger write that failed after user statements may have run: what is
//! committed, what the ledger records, and how to go on.

use std::fmt;

use crate::db::DbError;
use crate::files::Direction;

/// Why one of dbtool's own ledger writes failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LedgerCause {
    /// The server refused it or the connection broke.
    Server(DbError),
    /// The migration lock's connection ended: another run may be going on.
    LockLost,
    /// The write changed nothing: the row, or its table, was changed by the run's own SQL.
    RowChanged(String),
    /// dbtool stopped its write after it waited `lock_timeout` for a lock someone holds.
    Waited(String),
}

/// A ledger write that failed after user statements may have run (SPEC §7: the message says
/// what is committed and what the ledger records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LedgerWriteFailure {
    pub(crate) path: String,
    /// The migration's version; None for a seed.
    pub(crate) version: Option<String>,
    pub(crate) direction: Direction,
    /// The statement whose record failed (None: the step's start or a seed's end).
    pub(crate) after_statement: Option<u32>,
    pub(crate) total: u32,
    /// Statements of the file committed, and how many of them the ledger records.
    pub(crate) committed: u32,
    pub(crate) recorded: u32,
    pub(crate) cause: LedgerCause,
}

impl fmt::Display for LedgerWriteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.after_statement {
            Some(n) => write!(
                f,
                "{}: dbtool could not record statement {n} of {} in the ledger",
                self.path, self.total
            )?,
            None => write!(f, "{}: dbtool could not write its ledger row", self.path)?,
        }
        match &self.cause {
            LedgerCause::Server(e) => write!(f, "\n  {e}")?,
            LedgerCause::LockLost => write!(
                f,
                "\n  dbtool's migration lock was lost (the connection holding it ended), so \
                 another run may have started: dbtool stopped rather than run beside it."
            )?,
            LedgerCause::Waited(what) => write!(
                f,
                "\n  dbtool stopped its ledger write: it {what} (lock_timeout)"
            )?,
            LedgerCause::RowChanged(now) => write!(
                f,
                "\n  the write changed nothing: {now}. A statement of this run changed dbtool's \
                 ledger (its tables are dbtool's own: migrations must not write to them)."
            )?,
        }
        let Some(version) = &self.version else {
            return write!(
                f,
                "\n  the seed's transaction was rolled back with it; fix the cause and run \
                 `dbtool seed:run` again."
            );
        };
        let (c, r) = (self.committed, self.recorded);
        match c {
            0 => write!(f, "\n  no statement of this file was committed.")?,
            1 => write!(f, "\n  statement 1 was applied and committed")?,
            c => write!(f, "\n  statements 1-{c} were applied and committed")?,
        }
        if c > 0 {
            if r == c {
                write!(f, "; the ledger records it.")?;
            } else {
                write!(f, "; the ledger records {r} of them.")?;
            }
        }
        let cmd = match self.direction {
            Direction::Up => "migrate:latest",
            Direction::Down => "migrate:rollback",
        };
        if r == c {
            write!(
                f,
                "\n  once the cause is gone, run `dbtool {cmd}`: it resumes at statement {}.",
                c + 1
            )
        } else {
            write!(
                f,
                "\n  the ledger is behind the database: check what it holds \
                 (`dbtool migrate:status`), then settle it with \
                 `dbtool migrate:resolve {version} --applied` or `--rolled-back`."
            )
        }
    }
}

impl std::error::Error for LedgerWriteFailure {}
