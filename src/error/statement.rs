//! The message of a user statement the server refused (SPEC §10): where, the server's error
//! (with a hint for the errors whose cause users rarely guess), what was kept, how to go on.

use std::fmt;

use crate::db::DbError;
use crate::files::Direction;

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
        /// The rollback could not undo rows in these non-transactional tables (empty: which
        /// ones is not known). None: it undid everything.
        kept: Option<Vec<String>>,
        /// The statement gave up waiting for a lock every time it was tried.
        lock_wait: Option<LockWaited>,
    },
    /// A seed: one transaction, rolled back.
    Seed {
        implicit_commits: bool,
        kept: Option<Vec<String>>,
    },
}

/// A statement that gave up waiting for a lock (`ddl_lock_wait`) each time it was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LockWaited {
    /// Times it was sent: the first try and the retries (`ddl_retries`).
    pub(crate) tries: u32,
    /// How long each try waited (the session's `lock_wait_timeout`), in seconds.
    pub(crate) wait_secs: u64,
    /// What it waited for and who held it, as last seen.
    pub(crate) held: Option<String>,
}

impl fmt::Display for LockWaited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let times = match self.tries {
            1 => "once".to_owned(),
            n => format!("{n} times"),
        };
        write!(
            f,
            "it gave up waiting for a lock {times}, {} s each (ddl_lock_wait, ddl_retries)",
            self.wait_secs
        )?;
        if let Some(held) = &self.held {
            write!(f, ": it waited for {held}")?;
        }
        Ok(())
    }
}

/// `rows written to MyISAM table `t` and …`, for what a rollback could not undo.
fn kept_rows(kept: &[String]) -> String {
    if kept.is_empty() {
        "rows written to non-transactional tables (MyISAM, MEMORY, …)".to_owned()
    } else {
        format!("rows written to {}", kept.join(" and "))
    }
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
                kept,
                lock_wait,
            } => {
                if let Some(w) = lock_wait {
                    write!(f, "\n  {w}.")?;
                }
                migration_context(
                    f,
                    n,
                    version,
                    *direction,
                    (*committed, *rolled_back_from),
                    (*atomic, lock_wait.is_some()),
                    kept.as_deref(),
                )
            }
            FailureContext::Seed {
                implicit_commits,
                kept,
            } => {
                if let Some(kept) = kept {
                    write!(
                        f,
                        "\n  the seed's transaction was rolled back, but {} stay: those tables \
                         cannot roll back.",
                        kept_rows(kept)
                    )?;
                } else if *implicit_commits {
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
    (committed, rolled_back_from): (u32, Option<u32>),
    (atomic, lock_wait): (bool, bool),
    kept: Option<&[String]>,
) -> fmt::Result {
    let (cmd, verb, what) = match direction {
        Direction::Up => ("migrate:latest", "applied", "migration"),
        Direction::Down => ("migrate:rollback", "rolled back", "rollback"),
    };
    // The file is not at fault when the statement only waited for a lock.
    let fix = if lock_wait {
        "once the lock is free (the session holding it ends its transaction), run"
    } else {
        "fix the file and run"
    };
    if atomic {
        return match kept {
            None => write!(
                f,
                "\n  the {what} ran in one transaction, which was rolled back: nothing of it \
                 was {verb}.\n  {fix} `dbtool {cmd}`."
            ),
            Some(kept) => write!(
                f,
                "\n  the {what} ran in one transaction, which was rolled back, but {} were not \
                 rolled back (those tables cannot be).\n  undo those rows by hand, fix the file \
                 and run `dbtool {cmd}`.",
                kept_rows(kept)
            ),
        };
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
            "\n  statements {from}-{} ran in one transaction with it and were rolled back",
            n - 1
        )?;
        match kept {
            None => write!(f, ".")?,
            Some(kept) => write!(f, ", except {}, which stay.", kept_rows(kept))?,
        }
    }
    let next = committed + 1;
    write!(f, "\n  {fix} `dbtool {cmd}` to resume at statement {next},")?;
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
