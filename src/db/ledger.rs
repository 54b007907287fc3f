//! The ledger (SPEC §5): `dbtool_migrations`, `dbtool_seeds` and the append-only `dbtool_log`.
//!
//! The tables are created on the first write, never by a read-only command. Their schema
//! carries a version in the table comment (`dbtool ledger v1`) so a later dbtool can upgrade
//! them in place and an older one refuses to write to a newer ledger. Every value is bound as
//! a parameter (or set as a session variable with bound parameters, see `exec`); table names
//! come from [`Tables`], quoted by the one identifier helper.
//!
//! Rows are validated when read: a hand-edited row (bad checksum text, unknown state, negative
//! batch) is a [`LedgerError`] (exit 3), never a panic.

use std::fmt;

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use super::{Db, DbError, Tables, codes};
use crate::files::{Checksum, Version};

/// The ledger schema version this dbtool writes.
pub const SCHEMA_VERSION: u32 = 1;
const COMMENT_PREFIX: &str = "dbtool ledger v";

/// Whether a row is done or part-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Applied,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Failed => "failed",
        }
    }
}

/// Which file a `failed` row's `statements_done` counts: the up file, or the down file of a
/// rollback that stopped part-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// One row of `dbtool_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub version: Version,
    pub name: String,
    pub batch: u32,
    pub checksum: Checksum,
    pub checksum_algo: String,
    pub down_checksum: Option<Checksum>,
    pub state: State,
    pub direction: Direction,
    pub statements_done: u32,
    pub statements_total: u32,
    pub prefix_checksum: Option<Checksum>,
    pub error: Option<String>,
    /// RFC 3339, UTC, microseconds: `2026-01-01T12:00:03.120000Z`.
    pub applied_at: String,
    pub duration_ms: u64,
    pub applied_by: String,
    pub tool_version: String,
}

/// One row of `dbtool_seeds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRow {
    pub path: String,
    pub checksum: Checksum,
    pub first_run_at: String,
    pub last_run_at: String,
    pub run_count: u64,
    pub duration_ms: u64,
}

/// A ledger row that does not hold what dbtool wrote there. Exit 3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the ledger table {table} has a bad row ({key}): column `{column}` {problem}\n  \
     fix or delete that row by hand (it was edited or written by another tool)"
)]
pub struct LedgerError {
    pub table: String,
    pub key: String,
    pub column: &'static str,
    pub problem: String,
}

/// A ledger that another (newer) dbtool wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the ledger table {table} has schema version {found}; this dbtool writes version {ours}\n  \
     upgrade dbtool (the ledger was written by a newer one)"
)]
pub struct NewerLedger {
    pub table: String,
    pub found: u32,
    pub ours: u32,
}

/// Why the ledger could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Bad(#[from] LedgerError),
}

const MIGRATION_COLUMNS: &str = "version, name, batch, checksum, checksum_algo, down_checksum, \
    state, direction, statements_done, statements_total, prefix_checksum, error, \
    DATE_FORMAT(applied_at, '%Y-%m-%dT%H:%i:%s.%fZ'), duration_ms, applied_by, tool_version";

/// Reads one column of a text-protocol row as an optional string.
fn text(row: &mut Row, i: usize) -> Option<String> {
    match row.take::<Value, usize>(i) {
        Some(Value::NULL) | None => None,
        Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        Some(other) => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

struct RowReader<'a> {
    row: Row,
    table: &'a str,
    key: String,
}

impl RowReader<'_> {
    fn bad(&self, column: &'static str, problem: impl Into<String>) -> LedgerError {
        LedgerError {
            table: self.table.to_owned(),
            key: self.key.clone(),
            column,
            problem: problem.into(),
        }
    }

    fn opt(&mut self, i: usize) -> Option<String> {
        text(&mut self.row, i)
    }

    fn req(&mut self, i: usize, column: &'static str) -> Result<String, LedgerError> {
        self.opt(i).ok_or_else(|| self.bad(column, "is NULL"))
    }

    fn num(&mut self, i: usize, column: &'static str) -> Result<u64, LedgerError> {
        let s = self.req(i, column)?;
        s.parse::<u64>()
            .map_err(|_| self.bad(column, format!("is {s:?}, expected a number of 0 or more")))
    }

    fn checksum(
        &mut self,
        i: usize,
        column: &'static str,
    ) -> Result<Option<Checksum>, LedgerError> {
        match self.opt(i) {
            None => Ok(None),
            Some(s) => s
                .parse::<Checksum>()
                .map(Some)
                .map_err(|e| self.bad(column, e.to_string())),
        }
    }
}

fn parse_migration_row(row: Row, table: &str) -> Result<LedgerRow, LedgerError> {
    let mut r = RowReader {
        row,
        table,
        key: String::new(),
    };
    let raw_version = r.req(0, "version")?;
    r.key = format!("version {raw_version:?}");
    let version: Version = raw_version
        .parse()
        .map_err(|e: crate::files::name::BadVersion| r.bad("version", e.to_string()))?;
    r.key = format!("version {version}");
    let name = r.req(1, "name")?;
    let batch = r.num(2, "batch")?;
    let batch = u32::try_from(batch).map_err(|_| r.bad("batch", "is out of range"))?;
    let checksum = r
        .checksum(3, "checksum")?
        .ok_or_else(|| r.bad("checksum", "is NULL"))?;
    let checksum_algo = r.req(4, "checksum_algo")?;
    if checksum_algo != crate::files::checksum::ALGO {
        return Err(r.bad(
            "checksum_algo",
            format!(
                "is {checksum_algo:?}; this dbtool knows only {:?}",
                crate::files::checksum::ALGO
            ),
        ));
    }
    let down_checksum = r.checksum(5, "down_checksum")?;
    let state = match r.req(6, "state")?.as_str() {
        "applied" => State::Applied,
        "failed" => State::Failed,
        other => return Err(r.bad("state", format!("is {other:?}, expected applied or failed"))),
    };
    let direction = match r.req(7, "direction")?.as_str() {
        "up" => Direction::Up,
        "down" => Direction::Down,
        other => return Err(r.bad("direction", format!("is {other:?}, expected up or down"))),
    };
    let done = r.num(8, "statements_done")?;
    let total = r.num(9, "statements_total")?;
    if done > total {
        return Err(r.bad(
            "statements_done",
            format!("is {done}, more than statements_total ({total})"),
        ));
    }
    let prefix_checksum = r.checksum(10, "prefix_checksum")?;
    let error = r.opt(11);
    let applied_at = r.req(12, "applied_at")?;
    let duration_ms = r.num(13, "duration_ms")?;
    let applied_by = r.opt(14).unwrap_or_default();
    let tool_version = r.opt(15).unwrap_or_default();
    Ok(LedgerRow {
        version,
        name,
        batch,
        checksum,
        checksum_algo,
        down_checksum,
        state,
        direction,
        statements_done: done as u32,
        statements_total: total as u32,
        prefix_checksum,
        error,
        applied_at,
        duration_ms,
        applied_by,
        tool_version,
    })
}

fn parse_seed_row(row: Row, table: &str) -> Result<SeedRow, LedgerError> {
    let mut r = RowReader {
        row,
        table,
        key: String::new(),
    };
    let path = r.req(0, "path")?;
    r.key = format!("path {path:?}");
    let checksum = r
        .checksum(1, "checksum")?
        .ok_or_else(|| r.bad("checksum", "is NULL"))?;
    Ok(SeedRow {
        first_run_at: r.req(2, "first_run_at")?,
        last_run_at: r.req(3, "last_run_at")?,
        run_count: r.num(4, "run_count")?,
        duration_ms: r.num(5, "duration_ms")?,
        path,
        checksum,
    })
}

impl Db {
    /// The rows of a query on a ledger table, or None when the table does not exist (yet):
    /// reading never creates the ledger.
    async fn rows_if_table(&mut self, sql: String) -> Result<Option<Vec<Row>>, DbError> {
        match self.conn.query(sql).await {
            Ok(rows) => Ok(Some(rows)),
            Err(mysql_async::Error::Server(e)) if e.code == codes::NO_SUCH_TABLE => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every row of the migrations ledger, or None when the table does not exist yet.
    /// One query; no lock; creates nothing.
    pub async fn read_migrations(
        &mut self,
        t: &Tables,
    ) -> Result<Option<Vec<LedgerRow>>, ReadError> {
        let sql = format!("SELECT {MIGRATION_COLUMNS} FROM {}", t.migrations);
        let Some(rows) = self.rows_if_table(sql).await? else {
            return Ok(None);
        };
        let mut out = rows
            .into_iter()
            .map(|row| parse_migration_row(row, &t.migrations))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(Some(out))
    }

    /// Every row of the seeds ledger, or None when the table does not exist yet.
    pub async fn read_seeds(&mut self, t: &Tables) -> Result<Option<Vec<SeedRow>>, ReadError> {
        let sql = format!(
            "SELECT path, checksum, DATE_FORMAT(first_run_at, '%Y-%m-%dT%H:%i:%s.%fZ'), \
             DATE_FORMAT(last_run_at, '%Y-%m-%dT%H:%i:%s.%fZ'), run_count, duration_ms FROM {}",
            t.seeds
        );
        let Some(rows) = self.rows_if_table(sql).await? else {
            return Ok(None);
        };
        let mut out = rows
            .into_iter()
            .map(|row| parse_seed_row(row, &t.seeds))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        Ok(Some(out))
    }

    /// The highest batch number that applied something, rolled back since or not (0 if none).
    /// A run that failed before applying anything does not use up a number.
    pub async fn last_batch(&mut self, t: &Tables) -> Result<u32, DbError> {
        let n: Option<Option<u32>> = self
            .conn
            .query_first(format!(
                "SELECT MAX(batch) FROM {} WHERE action IN ('applied', 'rolled_back')",
                t.log
            ))
            .await?;
        Ok(n.flatten().unwrap_or(0))
    }

    /// Creates the ledger tables a write needs (`seeds` adds the seeds table), or checks the
    /// schema version of those that exist. Called under the lock, before the first write.
    pub async fn ensure_ledger(&mut self, t: &Tables, seeds: bool) -> Result<(), EnsureError> {
        let wanted: Vec<&str> = if seeds {
            vec![t.seeds_name.as_str(), t.log_name.as_str()]
        } else {
            vec![t.migrations_name.as_str(), t.log_name.as_str()]
        };
        let found: Vec<(String, String)> = self
            .conn
            .exec(
                "SELECT TABLE_NAME, TABLE_COMMENT FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?)",
                (t.database.as_str(), wanted[0], wanted[1]),
            )
            .await
            .map_err(DbError::from)?;
        for name in &wanted {
            match found.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some((_, comment)) => {
                    let v = comment
                        .strip_prefix(COMMENT_PREFIX)
                        .and_then(|v| v.parse::<u32>().ok())
                        .unwrap_or(SCHEMA_VERSION);
                    if v > SCHEMA_VERSION {
                        return Err(EnsureError::Newer(NewerLedger {
                            table: format!("{}.`{}`", t.database, name),
                            found: v,
                            ours: SCHEMA_VERSION,
                        }));
                    }
                    // v < SCHEMA_VERSION: upgrades go here when there is a v2.
                }
                None => {
                    let ddl = if *name == t.migrations_name.as_str() {
                        migrations_ddl(&t.migrations)
                    } else if *name == t.seeds_name.as_str() {
                        seeds_ddl(&t.seeds)
                    } else {
                        log_ddl(&t.log)
                    };
                    self.conn.query_drop(ddl).await.map_err(DbError::from)?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnsureError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Newer(NewerLedger),
}

fn table_options() -> String {
    format!(
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='{COMMENT_PREFIX}{SCHEMA_VERSION}'"
    )
}

fn migrations_ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
  version VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  batch INT UNSIGNED NOT NULL,
  checksum CHAR(64) NOT NULL,
  checksum_algo VARCHAR(32) NOT NULL,
  down_checksum CHAR(64) NULL,
  state VARCHAR(16) NOT NULL,
  direction VARCHAR(4) NOT NULL DEFAULT 'up',
  statements_done INT UNSIGNED NOT NULL,
  statements_total INT UNSIGNED NOT NULL,
  prefix_checksum CHAR(64) NULL,
  error TEXT NULL,
  applied_at DATETIME(6) NOT NULL,
  duration_ms BIGINT UNSIGNED NOT NULL DEFAULT 0,
  applied_by VARCHAR(300) NOT NULL,
  tool_version VARCHAR(32) NOT NULL
) {}",
        table_options()
    )
}

fn seeds_ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
  path VARCHAR(512) NOT NULL PRIMARY KEY,
  checksum CHAR(64) NOT NULL,
  checksum_algo VARCHAR(32) NOT NULL,
  first_run_at DATETIME(6) NOT NULL,
  last_run_at DATETIME(6) NOT NULL,
  run_count INT UNSIGNED NOT NULL,
  duration_ms BIGINT UNSIGNED NOT NULL,
  run_by VARCHAR(300) NOT NULL,
  tool_version VARCHAR(32) NOT NULL
) {}",
        table_options()
    )
}

fn log_ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at DATETIME(6) NOT NULL,
  action VARCHAR(32) NOT NULL,
  version VARCHAR(32) NULL,
  name VARCHAR(255) NULL,
  seed VARCHAR(512) NULL,
  checksum CHAR(64) NULL,
  batch INT UNSIGNED NULL,
  outcome TEXT NULL,
  duration_ms BIGINT UNSIGNED NULL,
  actor VARCHAR(300) NOT NULL,
  tool_version VARCHAR(32) NOT NULL
) {}",
        table_options()
    )
}

/// What a `dbtool_log` row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Applied,
    Failed,
    RolledBack,
    RollbackFailed,
    ResolvedApplied,
    ResolvedRolledBack,
    Repaired,
    SeedRun,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Applied => "applied",
            Action::Failed => "failed",
            Action::RolledBack => "rolled_back",
            Action::RollbackFailed => "rollback_failed",
            Action::ResolvedApplied => "resolved_applied",
            Action::ResolvedRolledBack => "resolved_rolled_back",
            Action::Repaired => "repaired",
            Action::SeedRun => "seed_run",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tool version recorded in the ledger.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The ledger writes that travel in one packet with user statements. They hold no values: every
/// value was set beforehand as a session variable with bound parameters (`Db::set_vars`), named
/// `@dbtool_<step>_<what>`; see `engine` for who sets which.
pub mod sql {
    use super::super::Tables;

    pub fn var(step: usize, what: &str) -> String {
        format!("dbtool_{step}_{what}")
    }

    const COLUMNS: &str = "version, name, batch, checksum, checksum_algo, down_checksum, state, \
        direction, statements_done, statements_total, prefix_checksum, error, applied_at, \
        duration_ms, applied_by, tool_version";

    /// Marks step `i` in flight: a new `failed` row with 0 statements done.
    pub fn insert_in_flight(t: &Tables, i: usize) -> String {
        format!(
            "INSERT INTO {m} ({COLUMNS}) VALUES (@dbtool_{i}_v, @dbtool_{i}_n, @dbtool_b, \
             @dbtool_{i}_ck, @dbtool_algo, @dbtool_{i}_dck, 'failed', 'up', 0, @dbtool_{i}_t, \
             NULL, NULL, UTC_TIMESTAMP(6), 0, USER(), @dbtool_tv)",
            m = t.migrations
        )
    }

    /// Marks the `failed` row of step `i` in flight again, for a resume in its direction.
    pub fn resume_in_flight(t: &Tables, i: usize) -> String {
        format!(
            "UPDATE {m} SET name = @dbtool_{i}_n, batch = IF(direction = 'up', @dbtool_b, batch), \
             checksum = IF(direction = 'up', @dbtool_{i}_ck, checksum), \
             down_checksum = IF(direction = 'up', @dbtool_{i}_dck, down_checksum), \
             statements_total = @dbtool_{i}_t, error = NULL, \
             applied_at = IF(direction = 'up', UTC_TIMESTAMP(6), applied_at), \
             applied_by = USER(), tool_version = @dbtool_tv WHERE version = @dbtool_{i}_v",
            m = t.migrations
        )
    }

    /// Marks the applied row of step `i` as a rollback in flight.
    pub fn down_in_flight(t: &Tables, i: usize) -> String {
        format!(
            "UPDATE {m} SET state = 'failed', direction = 'down', statements_done = 0, \
             statements_total = @dbtool_{i}_t, prefix_checksum = NULL, error = NULL, \
             down_checksum = @dbtool_{i}_dck \
             WHERE version = @dbtool_{i}_v",
            m = t.migrations
        )
    }

    /// Records that step `i` has `@dbtool_<i>_k<u>` statements done.
    pub fn progress(t: &Tables, i: usize, u: u32) -> String {
        format!(
            "UPDATE {m} SET statements_done = @dbtool_{i}_k{u}, \
             prefix_checksum = @dbtool_{i}_p{u} WHERE version = @dbtool_{i}_v",
            m = t.migrations
        )
    }

    /// Turns step `i`'s row `applied` (all `u` statements done) and logs it. Run inside a
    /// transaction. The duration runs from `@dbtool_<i>_s` when the step set it, else from the
    /// in-flight row's `applied_at` (assignments apply left to right, so `duration_ms` still
    /// sees the old `applied_at`; with MariaDB's SIMULTANEOUS_ASSIGNMENT too).
    pub fn finish_up(t: &Tables, i: usize, u: u32) -> String {
        format!(
            "UPDATE {m} SET state = 'applied', direction = 'up', statements_done = @dbtool_{i}_k{u}, \
             prefix_checksum = @dbtool_{i}_p{u}, error = NULL, batch = @dbtool_b, \
             duration_ms = GREATEST(0, TIMESTAMPDIFF(MICROSECOND, \
             COALESCE(@dbtool_{i}_s, applied_at), UTC_TIMESTAMP(6)) DIV 1000), \
             applied_at = UTC_TIMESTAMP(6) WHERE version = @dbtool_{i}_v;\n\
             {log}",
            m = t.migrations,
            log = log_from_row(t, i, "applied")
        )
    }

    /// Inserts step `i`'s row as `applied` (an atomic migration) and logs it. Run inside the
    /// migration's transaction.
    pub fn insert_applied(t: &Tables, i: usize, u: u32) -> String {
        format!(
            "INSERT INTO {m} ({COLUMNS}) VALUES (@dbtool_{i}_v, @dbtool_{i}_n, @dbtool_b, \
             @dbtool_{i}_ck, @dbtool_algo, @dbtool_{i}_dck, 'applied', 'up', @dbtool_{i}_k{u}, \
             @dbtool_{i}_t, @dbtool_{i}_p{u}, NULL, UTC_TIMESTAMP(6), \
             GREATEST(0, TIMESTAMPDIFF(MICROSECOND, @dbtool_{i}_s, UTC_TIMESTAMP(6)) DIV 1000), \
             USER(), @dbtool_tv);\n\
             {log}",
            m = t.migrations,
            log = log_from_row(t, i, "applied")
        )
    }

    /// Logs step `i`'s rollback and deletes its row. Run inside a transaction.
    pub fn finish_down(t: &Tables, i: usize) -> String {
        format!(
            "INSERT INTO {log} (at, action, version, name, seed, checksum, batch, outcome, \
             duration_ms, actor, tool_version) SELECT UTC_TIMESTAMP(6), 'rolled_back', version, \
             name, NULL, down_checksum, batch, CONCAT('down statements: ', @dbtool_{i}_t), \
             GREATEST(0, TIMESTAMPDIFF(MICROSECOND, @dbtool_{i}_s, UTC_TIMESTAMP(6)) DIV 1000), \
             USER(), @dbtool_tv FROM {m} WHERE version = @dbtool_{i}_v;\n\
             DELETE FROM {m} WHERE version = @dbtool_{i}_v",
            m = t.migrations,
            log = t.log
        )
    }

    fn log_from_row(t: &Tables, i: usize, action: &str) -> String {
        format!(
            "INSERT INTO {log} (at, action, version, name, seed, checksum, batch, outcome, \
             duration_ms, actor, tool_version) SELECT applied_at, '{action}', version, name, NULL, \
             checksum, batch, CONCAT('statements: ', statements_total), duration_ms, USER(), \
             tool_version FROM {m} WHERE version = @dbtool_{i}_v",
            m = t.migrations,
            log = t.log
        )
    }
}
