//! The error type, and the one place errors become exit codes (SPEC §9).
//!
//! 0 success · 1 a statement or connection failed · 2 usage, config or migration-files error ·
//! 3 drift detected, a `failed` migration blocks the way, or the ledger holds what dbtool did
//! not write · 4 lock not obtained in time · 5 pending migrations (only
//! `migrate:status --exit-code`, which is not an error).
//!
//! Each variant carries what its message needs (path, line, statement number, server error);
//! each message is written once, here or in the type it wraps.

use std::io;

use crate::config::ConfigError;
use crate::db::ledger::{EnsureError, LedgerSchemaError, ReadError};
use crate::db::lock::LockError;
use crate::db::{ConnectError, DbError};
use crate::files::FileProblems;
use crate::plan::PlanError;
use crate::rows::LedgerError;
use crate::sql::SplitError;

mod import;
mod ledger;
mod statement;

pub(crate) use import::ImportError;
pub(crate) use ledger::{LedgerCause, LedgerWriteFailure};
pub(crate) use statement::{FailureContext, LockWaited, StatementFailure};

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
    #[error(
        "environment `{env}` has no targets: add `targets`, `targets_file` or `targets_query` to \
         its section of knexfile.toml, or pass --targets-file PATH"
    )]
    NoTargets { env: String },
    #[error("no target `{name}` among the {count} targets ({at}){near}")]
    UnknownTarget {
        name: String,
        count: usize,
        at: String,
        /// `; did you mean …?`, or empty.
        near: String,
    },
    #[error(
        "{0} only applies to a fleet run: add --all-targets, --target NAME or --targets-file PATH"
    )]
    FleetFlag(&'static str),
}

/// Why migrate:baseline recorded nothing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BaselineError {
    #[error(
        "no migration file has version {version}: --to takes the version of a migration in {dir}"
    )]
    UnknownVersion { version: String, dir: String },
    #[error(
        "cannot baseline: {} stopped part-way: {}\n  settle {} first with `dbtool migrate:resolve \
         VERSION --applied|--rolled-back`; nothing was recorded",
        if ids.len() == 1 { "a migration" } else { "migrations" },
        ids.join(", "),
        if ids.len() == 1 { "it" } else { "them" }
    )]
    Failed { ids: Vec<String> },
    #[error(
        "migrate:baseline --check: {} that the migrations up to {to} create {} not in the \
         database:{}\n  nothing was recorded; apply them with `dbtool migrate:latest` instead, or \
         baseline to an earlier version",
        if missing.len() == 1 { "1 object".to_owned() } else { format!("{} objects", missing.len()) },
        if missing.len() == 1 { "is" } else { "are" },
        missing.iter().map(|m| format!("\n  {m}")).collect::<String>()
    )]
    Missing { to: String, missing: Vec<String> },
}

/// Why schema:load did not load.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SchemaError {
    #[error(
        "database {database} is not empty ({count} objects: {some}): schema:load creates a \
         schema only in an empty database; nothing was loaded"
    )]
    NotEmpty {
        database: String,
        count: usize,
        some: String,
    },
    #[error(
        "{path}:{line}: statement {number} failed\n  {error}\n  the statements before it were \
         loaded; drop the database's objects (or recreate it) before loading again"
    )]
    LoadFailed {
        path: String,
        line: u64,
        number: u32,
        error: crate::db::DbError,
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
    #[error("{path}:{line}: statement {number} is refused, and nothing was run: {hazard}")]
    Refused {
        path: String,
        line: u64,
        number: u32,
        hazard: crate::sql::hazard::Hazard,
    },
    #[error(
        "{path} is still the template `dbtool migrate:make` wrote (only comments): nothing was \
         run\n  write its statements, or delete the file; for a deliberate no-op, remove the \
         template's `dbtool:template` comment"
    )]
    Template { path: String },
    #[error("{path} already exists; dbtool does not overwrite it")]
    Exists { path: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(
        "{}: `{command}` changes it; add --yes to go ahead",
        match via {
            None => format!("environment `{env}` is protected"),
            Some((other, target)) => format!(
                "{target} is the database of environment `{other}`, which is protected \
                 (reached here through environment `{env}`)"
            ),
        }
    )]
    Protected {
        env: String,
        command: &'static str,
        /// The protected environment whose database this is, and the target, when the chosen
        /// environment is not the protected one.
        via: Option<(String, String)>,
    },
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
    Baseline(#[from] BaselineError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(
        "the server is read-only ({variable} = ON): it is probably a replica or a standby, and \
         nothing was run\n  point dbtool at the primary"
    )]
    ReadOnly { variable: &'static str },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    LedgerSchema(#[from] LedgerSchemaError),
    #[error(transparent)]
    Lock(Box<LockError>),
    #[error(transparent)]
    LedgerWrite(Box<LedgerWriteFailure>),
    /// A checked run's rows that dbtool cannot settle from the schema (see `runner::checked`).
    #[error("{message}")]
    Unsettled {
        message: String,
        /// The server may still be running the statement (exit 1), or the schema disagrees
        /// with any account of the run (exit 3).
        running: bool,
    },
    /// SIGINT or SIGTERM stopped the run: in a statement (`during`), or between files.
    #[error("{}", interrupted(*signal, during.as_deref(), before.as_deref()))]
    Interrupted {
        signal: crate::runner::Interrupt,
        during: Option<Box<Error>>,
        /// The file the run stopped before, when it stopped between files.
        before: Option<String>,
    },
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
            | Error::Refused { .. }
            | Error::Template { .. }
            | Error::Exists { .. }
            | Error::Io { .. }
            | Error::Usage(_)
            | Error::Protected { .. }
            | Error::ReadOnly { .. } => 2,
            Error::Connect(_) | Error::Db { .. } | Error::Statement(_) | Error::TooLarge { .. } => {
                1
            }
            Error::Plan(e) => e.exit_code(),
            Error::Baseline(BaselineError::UnknownVersion { .. }) => 2,
            Error::Baseline(_) => 3,
            Error::Import(
                ImportError::NoTable { .. }
                | ImportError::NotItsTable { .. }
                | ImportError::AlembicOnly { .. }
                | ImportError::NoMapping { .. }
                | ImportError::Mapping { .. }
                | ImportError::Scripts { .. },
            ) => 2,
            Error::Import(_) => 3,
            Error::Schema(SchemaError::NotEmpty { .. }) => 3,
            Error::Schema(SchemaError::LoadFailed { .. }) => 1,
            Error::Ledger(_) | Error::LedgerSchema(_) => 3,
            Error::Unsettled { running, .. } => {
                if *running {
                    1
                } else {
                    3
                }
            }
            Error::LedgerWrite(e) => match e.cause {
                LedgerCause::Server(_) => 1,
                LedgerCause::LockLost | LedgerCause::RowChanged(_) => 3,
                LedgerCause::Waited(_) => 4,
            },
            Error::Interrupted { signal, .. } => signal.exit_code(),
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

/// The message of [`Error::Interrupted`].
fn interrupted(
    signal: crate::runner::Interrupt,
    during: Option<&Error>,
    before: Option<&str>,
) -> String {
    let name = signal.name();
    match (during, before) {
        (Some(e), _) => format!(
            "interrupted ({name}): the running statement was stopped on the server \
             (KILL QUERY)\n{e}"
        ),
        (None, Some(next)) => format!(
            "interrupted ({name}): the run stopped before {next}; everything before it is \
             applied and recorded\n  run the command again to go on."
        ),
        (None, None) => format!(
            "interrupted ({name}) as the run's last statement ran: it completed, and everything \
             the run did is applied and recorded\n  nothing is left to do."
        ),
    }
}

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
