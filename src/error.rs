//! The error type, and the one place errors become exit codes (SPEC §9).
//!
//! 0 success · 1 a statement or connection failed · 2 usage, config or migration-files error ·
//! 3 drift detected or a `failed` migration blocks the way · 4 lock not obtained in time ·
//! 5 pending migrations (only `migrate:status --exit-code`, which is not an error).
//!
//! Each variant carries what its message needs (path, line, statement number, server error);
//! each message is written once, here or in the type it wraps.

use std::io;

use std::fmt;

use crate::config::ConfigError;
use crate::db::ledger::{EnsureError, LedgerError, NewerLedger, ReadError};
use crate::db::lock::LockError;
use crate::db::{ConnectError, DbError};
use crate::files::FileProblems;
use crate::plan::{Blocked, Drift, PlanError};
use crate::sql::SplitError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A usage problem: the command line asks for something that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("`{0}` gives an empty file name; use letters or digits")]
    EmptyName(String),
    #[error("{0}")]
    Invalid(&'static str),
    #[error(
        "the connection {0} names no database; add it to the URL (mysql://user@host:3306/DATABASE)"
    )]
    NoDatabase(String),
    #[error("`{0}` is not a version (1 to 32 digits)")]
    BadVersion(String),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Files(#[from] FileProblems),
    #[error("{path}:{detail}", detail = split_detail(source))]
    Sql { path: String, source: SplitError },
    #[error("{path} already exists; dbtool does not overwrite it")]
    Exists { path: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error("environment `{env}` is protected: `{command}` changes it; add --yes to go ahead")]
    Protected { env: String, command: &'static str },
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{doing}: {source}")]
    Db {
        doing: &'static str,
        source: DbError,
    },
    #[error(transparent)]
    Statement(Box<StatementFailure>),
    #[error(transparent)]
    Drift(Drift),
    #[error("{0}")]
    Blocked(Blocked),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    NewerLedger(#[from] NewerLedger),
    #[error(transparent)]
    Lock(Box<LockError>),
    /// A usage problem found while planning (an unknown version, an irreversible rollback).
    #[error("{0}")]
    Plan(String),
    /// Out-of-order migrations refused by `out_of_order = false`.
    #[error("{0}")]
    OutOfOrder(String),
    #[error(
        "{path}:{line}: statement {number} is {size} bytes, more than the server's \
         max_allowed_packet ({max} bytes)\n  \
         nothing of it was sent; raise the server setting (SET GLOBAL max_allowed_packet = …, or \
         max_allowed_packet in my.cnf) or split the statement"
    )]
    TooLarge {
        path: String,
        line: u64,
        number: u32,
        size: usize,
        max: usize,
    },
}

impl Error {
    /// A database error while doing something other than running a user statement.
    pub fn db(doing: &'static str, source: DbError) -> Error {
        Error::Db { doing, source }
    }
}

impl From<crate::files::FileProblem> for Error {
    fn from(p: crate::files::FileProblem) -> Self {
        Error::Files(FileProblems(vec![p]))
    }
}

impl From<LockError> for Error {
    fn from(e: LockError) -> Self {
        Error::Lock(Box::new(e))
    }
}

impl From<ReadError> for Error {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Db(source) => Error::db("reading the ledger", source),
            ReadError::Bad(e) => Error::Ledger(e),
        }
    }
}

impl From<EnsureError> for Error {
    fn from(e: EnsureError) -> Self {
        match e {
            EnsureError::Db(source) => Error::db("creating the ledger tables", source),
            EnsureError::Newer(e) => Error::NewerLedger(e),
        }
    }
}

impl<E: std::error::Error + Into<Error> + 'static> From<PlanError<E>> for Error {
    fn from(e: PlanError<E>) -> Self {
        match e {
            PlanError::Drift(d) => Error::Drift(d),
            PlanError::Blocked(b) => Error::Blocked(b),
            PlanError::Prefix(e) => e.into(),
            PlanError::OutOfOrder { .. } => Error::OutOfOrder(e.to_string()),
            other => Error::Plan(other.to_string()),
        }
    }
}

/// Where a failed statement ran, which decides what the message says was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureContext {
    /// A migration's up or down file.
    Migration {
        version: String,
        down: bool,
        /// Statements of this file committed before the failure (the ledger says so too).
        committed: u32,
        /// The first statement of the transaction the failing one ran in, when that
        /// transaction was rolled back with it (statements `from..number-1` were undone).
        rolled_back_from: Option<u32>,
        /// The whole file ran in one transaction: nothing of it was kept.
        atomic: bool,
    },
    /// A seed: one transaction, rolled back.
    Seed { implicit_commits: bool },
}

/// A user statement the server refused (SPEC §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementFailure {
    pub path: String,
    pub line: u64,
    pub number: u32,
    pub total: Option<u32>,
    pub error: DbError,
    pub context: FailureContext,
}

impl fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.number;
        match self.total {
            Some(t) => write!(
                f,
                "{}:{}: statement {n} of {t} failed",
                self.path, self.line
            )?,
            None => write!(f, "{}:{}: statement {n} failed", self.path, self.line)?,
        }
        write!(f, "\n  {}", self.error)?;
        if self.error.is_lost() {
            write!(
                f,
                "\n  the connection was lost while statement {n} ran: it may or may not have \
                 completed on the server."
            )?;
        }
        match &self.context {
            FailureContext::Migration {
                version,
                down,
                committed,
                rolled_back_from,
                atomic,
            } => {
                let (cmd, verb) = if *down {
                    ("migrate:rollback", "rolled back")
                } else {
                    ("migrate:latest", "applied")
                };
                if *atomic {
                    write!(
                        f,
                        "\n  the {} ran in one transaction, which was rolled back: nothing of it \
                         was {verb}.\n  fix the file and run `dbtool {cmd}`.",
                        if *down { "rollback" } else { "migration" }
                    )?;
                    return Ok(());
                }
                match committed {
                    0 => write!(f, "\n  no statement of this file was committed.")?,
                    1 => write!(
                        f,
                        "\n  statement 1 was applied and committed (MySQL cannot roll back DDL)."
                    )?,
                    c => write!(
                        f,
                        "\n  statements 1-{c} were applied and committed (MySQL cannot roll back DDL)."
                    )?,
                }
                if let Some(from) = rolled_back_from.filter(|from| *from < n) {
                    write!(
                        f,
                        "\n  statements {from}-{} ran in one transaction with it and were rolled back.",
                        n - 1
                    )?;
                }
                let next = committed + 1;
                write!(
                    f,
                    "\n  fix the file and run `dbtool {cmd}` to resume at statement {next},"
                )?;
                if *down {
                    write!(
                        f,
                        "\n  or finish the rollback by hand and run \
                         `dbtool migrate:resolve {version} --rolled-back`."
                    )
                } else {
                    write!(
                        f,
                        "\n  or undo them by hand and run \
                         `dbtool migrate:resolve {version} --rolled-back`."
                    )
                }
            }
            FailureContext::Seed { implicit_commits } => {
                if *implicit_commits {
                    write!(
                        f,
                        "\n  the seed's transaction was rolled back, but it holds statements that \
                         commit implicitly: what ran before them was kept."
                    )?;
                } else {
                    write!(
                        f,
                        "\n  the seed ran in one transaction, which was rolled back: none of its \
                         rows were written."
                    )?;
                }
                write!(
                    f,
                    "\n  seeds after it did not run; fix it and run `dbtool seed:run` again."
                )
            }
        }
    }
}

impl std::error::Error for StatementFailure {}

/// `12: unterminated …` for errors with a line, ` byte 40: invalid UTF-8` otherwise.
fn split_detail(e: &SplitError) -> String {
    match e {
        SplitError::Unterminated { .. }
        | SplitError::DelimiterMissing { .. }
        | SplitError::DelimiterBackslash { .. } => {
            // The error's own text starts with "line N: "; show it as path:N.
            let text = e.to_string();
            text.strip_prefix("line ").unwrap_or(&text).to_owned()
        }
        SplitError::InvalidUtf8 { .. } | SplitError::Io(_) => format!(" {e}"),
    }
}

impl Error {
    /// The process exit code for this error (SPEC §9).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_)
            | Error::Files(_)
            | Error::Sql { .. }
            | Error::Exists { .. }
            | Error::Io { .. }
            | Error::Usage(_)
            | Error::Protected { .. }
            | Error::Plan(_)
            | Error::NewerLedger(_) => 2,
            Error::Connect(_) | Error::Db { .. } | Error::Statement(_) | Error::TooLarge { .. } => {
                1
            }
            Error::Drift(_) | Error::Blocked(_) | Error::OutOfOrder(_) | Error::Ledger(_) => 3,
            Error::Lock(e) if matches!(**e, LockError::Timeout { .. }) => 4,
            Error::Lock(_) => 1,
        }
    }

    pub fn io(path: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_errors_read_as_path_and_line() {
        let e = Error::Sql {
            path: "db/seeds/a.sql".into(),
            source: SplitError::Unterminated {
                what: "string `'`",
                line: 12,
            },
        };
        assert_eq!(
            e.to_string(),
            "db/seeds/a.sql:12: unterminated string `'` (it opens here and never closes)"
        );
        assert_eq!(e.exit_code(), 2);
        let e = Error::Sql {
            path: "db/seeds/a.sql".into(),
            source: SplitError::InvalidUtf8 { offset: 40 },
        };
        assert_eq!(e.to_string(), "db/seeds/a.sql: byte 40: invalid UTF-8");
    }
}
