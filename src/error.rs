//! The error type, and the one place errors become exit codes (SPEC §9).
//!
//! 0 success · 1 a statement or connection failed · 2 usage, config or migration-files error ·
//! 3 drift detected, a `failed` migration blocks the way, or the ledger holds what dbtool did
//! not write · 4 lock not obtained in time · 5 pending migrations (only
//! `migrate:status --exit-code`, which is not an error).
//!
//! Each variant carries what its message needs (path, line, statement number, server error);
//! each message is written once, here or in the type it wraps.

use std::fmt;
use std::io;

use crate::config::ConfigError;
use crate::db::ledger::{EnsureError, LedgerSchemaError, ReadError};
use crate::db::lock::LockError;
use crate::db::{ConnectError, DbError};
use crate::files::{Direction, FileProblems};
use crate::plan::PlanError;
use crate::rows::LedgerError;
use crate::sql::SplitError;

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// A usage problem: the command line asks for something that cannot be done.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UsageError {
    #[error("`{0}` gives an empty file name; use letters or digits")]
    EmptyName(String),
    #[error("--step must be 1 or more")]
    ZeroStep,
    #[error(
        "the connection {0} names no database; add it to the URL (mysql://user@host:3306/DATABASE)"
    )]
    NoDatabase(String),
    #[error("`{0}` is not a version (1 to 32 digits)")]
    BadVersion(String),
    #[error("no seed `{name}` in {dir}; available seeds: {available}")]
    UnknownSeed {
        name: String,
        dir: String,
        available: String,
    },
    #[error(
        "migration {0} has no ledger row: only a failed migration can be resolved \
         (see `dbtool migrate:status`)"
    )]
    NothingToResolve(String),
    #[error("migration {version} is {state}, not failed: only a failed migration can be resolved")]
    NotFailed {
        version: String,
        state: &'static str,
    },
}

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Files(#[from] FileProblems),
    #[error(
        "{path}:{}{}",
        source.line().map_or(String::new(), |l| format!("{l}:")),
        format_args!(" {}", source.problem())
    )]
    Split { path: String, source: SplitError },
    #[error(
        "{path}:{line}: unknown run mode `{word}` in `-- dbtool:run`: expected always, once or on-change"
    )]
    SeedMode {
        path: String,
        line: u64,
        word: String,
    },
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
    Plan(#[from] PlanError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    LedgerSchema(#[from] LedgerSchemaError),
    #[error(transparent)]
    Lock(Box<LockError>),
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
    pub(crate) fn db(doing: &'static str, source: DbError) -> Error {
        Error::Db { doing, source }
    }

    pub(crate) fn io(path: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code for this error (SPEC §9).
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_)
            | Error::Files(_)
            | Error::Split { .. }
            | Error::SeedMode { .. }
            | Error::Exists { .. }
            | Error::Io { .. }
            | Error::Usage(_)
            | Error::Protected { .. } => 2,
            Error::Connect(_) | Error::Db { .. } | Error::Statement(_) | Error::TooLarge { .. } => {
                1
            }
            Error::Plan(e) => e.exit_code(),
            Error::Ledger(_) | Error::LedgerSchema(_) => 3,
            Error::Lock(e) if matches!(**e, LockError::Timeout { .. }) => 4,
            Error::Lock(_) => 1,
        }
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
            ReadError::Schema(e) => Error::LedgerSchema(e),
        }
    }
}

impl From<EnsureError> for Error {
    fn from(e: EnsureError) -> Self {
        match e {
            EnsureError::Db(source) => Error::db("creating the ledger tables", source),
            EnsureError::Schema(e) => Error::LedgerSchema(e),
            EnsureError::Bad(e) => Error::Ledger(e),
        }
    }
}

/// Where a failed statement ran, which decides what the message says was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FailureContext {
    /// A migration's up or down file.
    Migration {
        version: String,
        direction: Direction,
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
pub(crate) struct StatementFailure {
    pub(crate) path: String,
    pub(crate) line: u64,
    pub(crate) number: u32,
    pub(crate) total: Option<u32>,
    pub(crate) error: DbError,
    pub(crate) context: FailureContext,
}

/// What to do about server errors whose cause users rarely guess.
fn hint(e: &DbError) -> Option<&'static str> {
    let DbError::Server(e) = e else { return None };
    Some(match e.code {
        // ER_BINLOG_UNSAFE_ROUTINE / ER_BINLOG_CREATE_ROUTINE_NEED_SUPER (MySQL's default has
        // binary logging on)
        1418 | 1419 => {
            "binary logging is on: declare the function DETERMINISTIC, NO SQL or READS SQL \
             DATA, or have an administrator SET GLOBAL log_bin_trust_function_creators = 1"
        }
        // ER_TABLE_WITHOUT_PK (MySQL's sql_require_primary_key)
        3750 => "the server requires a primary key on every table (sql_require_primary_key)",
        // ER_UNKNOWN_COLLATION: utf8mb4_0900_ai_ci and friends exist on MySQL 8+ only
        1273 => {
            "the collation does not exist on this server (MySQL 8's utf8mb4_0900_* collations \
             are unknown to MariaDB before 11.4.5; utf8mb4_unicode_ci exists on both)"
        }
        _ => return None,
    })
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
        if let Some(h) = hint(&self.error) {
            write!(f, "\n  hint: {h}")?;
        }
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
                direction,
                committed,
                rolled_back_from,
                atomic,
            } => migration_context(
                f,
                n,
                version,
                *direction,
                *committed,
                *rolled_back_from,
                *atomic,
            ),
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

/// What a failed migration step kept, and how to go on.
fn migration_context(
    f: &mut fmt::Formatter<'_>,
    n: u32,
    version: &str,
    direction: Direction,
    committed: u32,
    rolled_back_from: Option<u32>,
    atomic: bool,
) -> fmt::Result {
    let (cmd, verb, what) = match direction {
        Direction::Up => ("migrate:latest", "applied", "migration"),
        Direction::Down => ("migrate:rollback", "rolled back", "rollback"),
    };
    if atomic {
        return write!(
            f,
            "\n  the {what} ran in one transaction, which was rolled back: nothing of it was \
             {verb}.\n  fix the file and run `dbtool {cmd}`."
        );
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
    let by_hand = match direction {
        Direction::Up => "undo them by hand",
        Direction::Down => "finish the rollback by hand",
    };
    write!(
        f,
        "\n  or {by_hand} and run `dbtool migrate:resolve {version} --rolled-back`."
    )
}

impl std::error::Error for StatementFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_errors_read_as_path_and_line() {
        let e = Error::Split {
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
        let e = Error::Split {
            path: "db/seeds/a.sql".into(),
            source: SplitError::InvalidUtf8 { offset: 40 },
        };
        assert_eq!(e.to_string(), "db/seeds/a.sql: byte 40: invalid UTF-8");
    }
}
