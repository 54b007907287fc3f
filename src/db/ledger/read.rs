//! Reading the ledger: one round trip per table (its schema version and its rows in one
//! packet), every row validated, nothing created.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use super::schema::{LedgerSchemaError, check_comment, missing_columns};
use super::write::text;
use super::{Db, DbError, Tables};
use crate::db::codes;
use crate::files::{Checksum, Direction, Version};
use crate::rows::{LedgerError, MigrationRow, RowState, SeedRow, check_migrations};

/// Why the ledger could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Bad(#[from] LedgerError),
    #[error(transparent)]
    Schema(#[from] LedgerSchemaError),
}

pub(super) const MIGRATION_COLUMNS: [&str; 13] = [
    "version",
    "name",
    "batch",
    "checksum",
    "checksum_algo",
    "down_checksum",
    "state",
    "direction",
    "statements_done",
    "statements_total",
    "prefix_checksum",
    "error",
    "applied_at",
];

pub(super) const SEED_COLUMNS: [&str; 4] = ["path", "checksum", "last_run_at", "run_count"];

/// Every row of the migrations ledger, sorted by version and validated; None when the table
/// does not exist yet.
pub(crate) async fn read_migrations(
    db: &mut Db,
    t: &Tables,
) -> Result<Option<Vec<MigrationRow>>, ReadError> {
    let columns = select_list(&MIGRATION_COLUMNS, "applied_at");
    let sql = format!("SELECT {columns} FROM {}", t.migrations);
    let Some(rows) = read_table(db, t, t.migrations_name.as_str(), &MIGRATION_COLUMNS, sql).await?
    else {
        return Ok(None);
    };
    let mut out = rows
        .into_iter()
        .map(|row| parse_migration(row, &t.migrations))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.version.cmp(&b.version));
    check_migrations(&out, &t.migrations)?;
    Ok(Some(out))
}

/// Every row of the seeds ledger, in byte order of path; None when the table does not exist.
pub(crate) async fn read_seeds(db: &mut Db, t: &Tables) -> Result<Option<Vec<SeedRow>>, ReadError> {
    let columns = select_list(&SEED_COLUMNS, "last_run_at");
    let sql = format!("SELECT {columns} FROM {}", t.seeds);
    let Some(rows) = read_table(db, t, t.seeds_name.as_str(), &SEED_COLUMNS, sql).await? else {
        return Ok(None);
    };
    let mut out = rows
        .into_iter()
        .map(|row| parse_seed(row, &t.seeds))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(Some(out))
}

/// The highest batch number that applied something, rolled back since or not (0 if none).
/// A run that failed before applying anything does not use up a number.
pub(crate) async fn last_batch(db: &mut Db, t: &Tables) -> Result<u32, DbError> {
    let sql = format!(
        "SELECT MAX(batch) FROM {} WHERE action IN ('applied', 'rolled_back', 'baselined', 'imported')",
        t.log
    );
    match db.conn.query_first::<Option<u32>, _>(sql).await {
        Ok(n) => Ok(n.flatten().unwrap_or(0)),
        Err(mysql_async::Error::Server(e)) if e.code == codes::NO_SUCH_TABLE => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// The migrations ledger's rows as `INSERT` statements, in version order (schema:dump), values
/// quoted by the server (`QUOTE`).
pub(crate) async fn dump_rows(db: &mut Db, t: &Tables) -> Result<Vec<String>, DbError> {
    // Every column, in the table's order (the ledger may have more than dbtool reads).
    let columns: Vec<String> = db
        .conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (t.migrations_name.as_str(),),
        )
        .await?;
    let quoted: Vec<String> = columns.iter().map(|c| format!("QUOTE(`{c}`)")).collect();
    let sql = format!(
        "SELECT CONCAT_WS(', ', {}) FROM {} ORDER BY version",
        quoted.join(", "),
        t.migrations
    );
    let rows: Vec<String> = db.conn.query(sql).await?;
    Ok(rows
        .into_iter()
        .map(|values| {
            format!(
                "INSERT INTO {} ({}) VALUES ({values});",
                t.migrations_name,
                columns
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect())
}

/// How long each row in flight (`failed`) has been running, in seconds by the server's clock:
/// its `applied_at` is when its attempt started.
pub(crate) async fn running_for(db: &mut Db, t: &Tables) -> Result<Vec<(String, u64)>, DbError> {
    let sql = format!(
        "SELECT version, GREATEST(0, TIMESTAMPDIFF(SECOND, applied_at, UTC_TIMESTAMP(6))) FROM {} \
         WHERE state = 'failed'",
        t.migrations
    );
    Ok(db.conn.query::<(String, u64), _>(sql).await?)
}

/// What a migration's row holds now, in words (for the message of a write that did not take).
pub(crate) async fn describe_row(db: &mut Db, t: &Tables, key: &str) -> Result<String, DbError> {
    let sql = format!(
        "SELECT state, direction, statements_done, statements_total FROM {} WHERE version = {}",
        t.migrations,
        text(key)
    );
    match db
        .conn
        .query_first::<(String, String, u32, u32), _>(sql)
        .await
    {
        Ok(Some((state, direction, done, total))) => Ok(format!(
            "its ledger row now says {state} ({done} of {total} {direction} statements)"
        )),
        Ok(None) => Ok("its ledger row is gone".to_owned()),
        Err(mysql_async::Error::Server(e)) if e.code == codes::NO_SUCH_TABLE => {
            Ok(format!("the ledger table {} is gone", t.migrations))
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the seeds ledger is still there, in words.
pub(crate) async fn describe_seeds(db: &mut Db, t: &Tables) -> Result<String, DbError> {
    match db
        .conn
        .query_drop(format!("SELECT 1 FROM {} LIMIT 1", t.seeds))
        .await
    {
        Ok(()) => Ok("the seed's ledger row did not take".to_owned()),
        Err(mysql_async::Error::Server(e)) if e.code == codes::NO_SUCH_TABLE => {
            Ok(format!("the ledger table {} is gone", t.seeds))
        }
        Err(e) => Err(e.into()),
    }
}

/// `a, b, DATE_FORMAT(at, …)`: the time column as RFC 3339 text.
fn select_list(columns: &[&str], time: &str) -> String {
    columns
        .iter()
        .map(|c| {
            if *c == time {
                format!("DATE_FORMAT({c}, '%Y-%m-%dT%H:%i:%s.%fZ')")
            } else {
                (*c).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table's schema version (its comment) and its rows, in one packet. None when the table
/// does not exist; a schema error when it lacks a column dbtool reads.
async fn read_table(
    db: &mut Db,
    t: &Tables,
    name: &str,
    columns: &[&str],
    select: String,
) -> Result<Option<Vec<Row>>, ReadError> {
    let sql = format!(
        "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} \
         AND TABLE_NAME = {};\n{select}",
        text(t.database.as_str()),
        text(name)
    );
    let mut result = db.conn.query_iter(sql).await.map_err(DbError::from)?;
    let comments: Vec<String> = result.collect().await.map_err(DbError::from)?;
    let rows = match result.collect::<Row>().await {
        Ok(rows) => rows,
        Err(mysql_async::Error::Server(e)) if e.code == codes::NO_SUCH_TABLE => {
            drop(result);
            return Ok(None);
        }
        Err(mysql_async::Error::Server(e)) if e.code == codes::UNKNOWN_COLUMN => {
            drop(result);
            let missing = missing_columns(db, t, name, columns).await?;
            return Err(LedgerSchemaError::Columns {
                table: format!("{}.`{name}`", t.database),
                missing,
            }
            .into());
        }
        Err(e) => return Err(DbError::from(e).into()),
    };
    drop(result);
    if let Some(comment) = comments.first() {
        check_comment(&format!("{}.`{name}`", t.database), comment)?;
    }
    Ok(Some(rows))
}

/// Reads one column of a text-protocol row as an optional string.
fn text_of(row: &mut Row, i: usize) -> Option<String> {
    match row.take::<Value, usize>(i) {
        Some(Value::NULL) | None => None,
        Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        Some(other) => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

/// Reads the columns of one row, naming the row and column in every error.
struct RowReader<'a> {
    row: Row,
    table: &'a str,
    key: String,
}

impl RowReader<'_> {
    fn bad(&self, column: &str, problem: impl std::fmt::Display) -> LedgerError {
        LedgerError {
            table: self.table.to_owned(),
            key: self.key.clone(),
            problem: format!("column `{column}` {problem}"),
        }
    }

    fn opt(&mut self, i: usize) -> Option<String> {
        text_of(&mut self.row, i)
    }

    fn req(&mut self, i: usize, column: &str) -> Result<String, LedgerError> {
        self.opt(i).ok_or_else(|| self.bad(column, "is NULL"))
    }

    fn num(&mut self, i: usize, column: &str) -> Result<u64, LedgerError> {
        let s = self.req(i, column)?;
        s.parse::<u64>()
            .map_err(|_| self.bad(column, format!("is {s:?}, expected a number of 0 or more")))
    }

    fn u32(&mut self, i: usize, column: &str) -> Result<u32, LedgerError> {
        let n = self.num(i, column)?;
        u32::try_from(n).map_err(|_| self.bad(column, format!("is {n}, out of range")))
    }

    fn checksum(&mut self, i: usize, column: &str) -> Result<Option<Checksum>, LedgerError> {
        match self.opt(i) {
            None => Ok(None),
            Some(s) => s
                .parse::<Checksum>()
                .map(Some)
                .map_err(|e| self.bad(column, e)),
        }
    }
}

fn parse_migration(row: Row, table: &str) -> Result<MigrationRow, LedgerError> {
    let mut r = RowReader {
        row,
        table,
        key: String::new(),
    };
    let raw_version = r.req(0, "version")?;
    r.key = format!("version {raw_version:?}");
    let version: Version = raw_version
        .parse()
        .map_err(|e: crate::files::name::BadVersion| r.bad("version", e))?;
    r.key = format!("version {version}");
    let name = r.req(1, "name")?;
    let batch = r.u32(2, "batch")?;
    let checksum = r
        .checksum(3, "checksum")?
        .ok_or_else(|| r.bad("checksum", "is NULL"))?;
    let algo = r.req(4, "checksum_algo")?;
    if algo != crate::files::checksum::ALGO {
        return Err(r.bad(
            "checksum_algo",
            format!(
                "is {algo:?}; this dbtool knows only {:?}",
                crate::files::checksum::ALGO
            ),
        ));
    }
    let down_checksum = r.checksum(5, "down_checksum")?;
    let state = r.req(6, "state")?;
    let state = RowState::parse(&state)
        .ok_or_else(|| r.bad("state", format!("is {state:?}, expected applied or failed")))?;
    let direction = r.req(7, "direction")?;
    let direction = Direction::parse(&direction).ok_or_else(|| {
        r.bad(
            "direction",
            format!("is {direction:?}, expected up or down"),
        )
    })?;
    let done = r.u32(8, "statements_done")?;
    let total = r.u32(9, "statements_total")?;
    if done > total {
        return Err(r.bad(
            "statements_done",
            format!("is {done}, more than statements_total ({total})"),
        ));
    }
    Ok(MigrationRow {
        version,
        name,
        batch,
        checksum,
        down_checksum,
        state,
        direction,
        statements_done: done,
        statements_total: total,
        prefix_checksum: r.checksum(10, "prefix_checksum")?,
        error: r.opt(11),
        applied_at: r.req(12, "applied_at")?,
    })
}

fn parse_seed(row: Row, table: &str) -> Result<SeedRow, LedgerError> {
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
        last_run_at: r.req(2, "last_run_at")?,
        run_count: r.num(3, "run_count")?,
        path,
        checksum,
    })
}
