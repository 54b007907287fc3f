//! The ledger (SPEC §5): `dbtool_migrations`, `dbtool_seeds` and the append-only `dbtool_log`.
//! This module owns every read and write of them; no SQL naming a ledger table exists anywhere
//! else in dbtool. Its contract, in one screen:
//!
//! | call | does |
//! | --- | --- |
//! | [`Tables::new`] | the quoted, database-qualified names of one project's ledger tables |
//! | [`read_migrations`], [`read_seeds`] | every row, validated; None while the table does not exist (reads create nothing) |
//! | [`last_batch`] | the highest batch number ever used, rolled back or not |
//! | [`ensure`] | creates the tables a write needs, or checks and upgrades them (under the lock) |
//! | [`write`](mod@write)`::*` | the SQL of every write: the runner's (sent in one packet with user statements) and the one-off ones below |
//! | [`record_failure`], [`repair`], [`forget`], [`resolve`] | one-off writes, each in one transaction with its log row |
//!
//! Values never travel as text: every value in a ledger write is a hex literal
//! ([`write::text`]), so the SQL that shares a packet with user statements needs no session
//! state (no user variables a migration could overwrite, no prepared-statement round trips)
//! and is immune to the session's character set and `sql_mode`. Table names come from
//! [`Tables`], quoted by the one identifier helper.

mod read;
mod schema;
pub(crate) mod snapshot;
pub(crate) mod write;

use mysql_async::prelude::Queryable;

pub(crate) use read::{
    ReadError, describe_row, describe_seeds, dump_rows, last_batch, read_migrations, read_seeds,
    running_for,
};
pub(crate) use schema::{EnsureError, LedgerSchemaError, Need, ensure};

use super::{Db, DbError};
use crate::config::Ident;
use crate::files::Checksum;
use crate::rows::{Action, MigrationRow};
use write::LogEntry;

/// The quoted, database-qualified names of the ledger tables.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub(crate) database: Ident,
    pub(crate) migrations: String,
    pub(crate) seeds: String,
    pub(crate) log: String,
    /// The bare names, for information_schema lookups and messages.
    pub(crate) migrations_name: Ident,
    pub(crate) seeds_name: Ident,
    pub(crate) log_name: Ident,
}

impl Tables {
    pub(crate) fn new(database: Ident, migrations: &Ident, seeds: &Ident, log: &Ident) -> Tables {
        Tables {
            migrations: format!("{database}.{migrations}"),
            seeds: format!("{database}.{seeds}"),
            log: format!("{database}.{log}"),
            database,
            migrations_name: migrations.clone(),
            seeds_name: seeds.clone(),
            log_name: log.clone(),
        }
    }

    /// The bare names of all three tables.
    pub(crate) fn names(&self) -> [&str; 3] {
        [
            self.migrations_name.as_str(),
            self.seeds_name.as_str(),
            self.log_name.as_str(),
        ]
    }
}

/// The tool version recorded in the ledger.
pub(crate) const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs `statements` in one transaction (READ WRITE even when a migration made the session read
/// only, committed whatever `completion_type` it set).
async fn in_transaction(db: &mut Db, statements: &[String]) -> Result<(), DbError> {
    db.conn.query_drop(write::BEGIN_WRITE).await?;
    for sql in statements {
        if let Err(e) = db.conn.query_drop(sql.as_str()).await {
            let _ = db.conn.query_drop("ROLLBACK").await;
            return Err(e.into());
        }
    }
    db.conn.query_drop(write::COMMIT).await?;
    Ok(())
}

/// Records the text of a step's failure on its row and in the log, after `first` (the ends of
/// the steps before it that are still to be written, so the log keeps their order).
pub(crate) async fn record_failure(
    db: &mut Db,
    t: &Tables,
    key: &str,
    action: Action,
    text: &str,
    first: Vec<String>,
) -> Result<(), DbError> {
    let mut all = first;
    all.push(write::set_error(t, key, text));
    all.push(write::log_from_row(t, key, action, text));
    in_transaction(db, &all).await
}

/// Writes the ends of deferred steps (see [`write::deferred`]), with their guard.
pub(crate) async fn finish_deferred(
    db: &mut Db,
    t: &Tables,
    lock: &write::LockRef,
    pending: &[write::Deferred],
) -> Result<(), DbError> {
    in_transaction(db, &write::deferred::finish(t, lock, pending)).await
}

/// migrate:repair of a changed file: the row takes the file's checksum (and name).
pub(crate) async fn repair(
    db: &mut Db,
    t: &Tables,
    row: &MigrationRow,
    name: &str,
    checksum: &Checksum,
    outcome: &str,
) -> Result<(), DbError> {
    in_transaction(
        db,
        &[
            write::log(t, &LogEntry::about(Action::Repaired, row, outcome)),
            write::set_checksum(t, row.version.canonical(), name, checksum),
        ],
    )
    .await
}

/// migrate:repair of a migration whose file is gone: its row is forgotten.
pub(crate) async fn forget(
    db: &mut Db,
    t: &Tables,
    row: &MigrationRow,
    outcome: &str,
) -> Result<(), DbError> {
    in_transaction(
        db,
        &[
            write::log(t, &LogEntry::about(Action::Repaired, row, outcome)),
            write::delete_row(t, row.version.canonical()),
        ],
    )
    .await
}

/// migrate:baseline: records migrations applied without running them, in one transaction.
pub(crate) async fn baseline(
    db: &mut Db,
    t: &Tables,
    items: &[write::Baselined<'_>],
    batch: u32,
) -> Result<(), DbError> {
    let all: Vec<String> = items
        .iter()
        .flat_map(|b| write::baselined(t, b, batch))
        .collect();
    in_transaction(db, &all).await
}

/// How migrate:resolve settles a failed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle<'a> {
    /// Applied, with this checksum and batch.
    Applied { checksum: &'a Checksum, batch: u32 },
    /// Never applied: the row goes.
    RolledBack,
}

/// migrate:resolve: settles a failed row by hand.
pub(crate) async fn resolve(
    db: &mut Db,
    t: &Tables,
    row: &MigrationRow,
    settle: Settle<'_>,
    outcome: &str,
) -> Result<(), DbError> {
    let key = row.version.canonical();
    let (action, change) = match settle {
        Settle::Applied { checksum, batch } => (
            Action::ResolvedApplied,
            write::mark_applied(t, key, checksum, batch),
        ),
        Settle::RolledBack => (Action::ResolvedRolledBack, write::delete_row(t, key)),
    };
    in_transaction(
        db,
        &[
            write::log(t, &LogEntry::about(action, row, outcome)),
            change,
        ],
    )
    .await
}
