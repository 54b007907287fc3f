//! The schema snapshots: after every run that changed the schema, the schema as it then was
//! (see `commands::schema::snapshot`), in a ledger-owned table `<migrations table>_schema`,
//! created when the first snapshot is taken. migrate:drift compares the live schema with the
//! last one.

use mysql_async::prelude::Queryable;

use super::{Db, DbError, Tables};
use crate::db::codes;

/// The snapshot table's bare name.
pub(crate) fn table_name(t: &Tables) -> String {
    format!("{}_schema", t.migrations_name.as_str())
}

fn table(t: &Tables) -> String {
    format!("{}.`{}`", t.database, table_name(t))
}

/// Stores `body` (with its `hash`) unless the last snapshot has the same hash. Returns whether
/// it stored one.
pub(crate) async fn record(
    db: &mut Db,
    t: &Tables,
    body: &str,
    hash: &str,
) -> Result<bool, DbError> {
    let tb = table(t);
    db.conn
        .query_drop(format!(
            "CREATE TABLE IF NOT EXISTS {tb} (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY \
             KEY, taken_at DATETIME(6) NOT NULL, hash CHAR(64) NOT NULL, body LONGTEXT NOT NULL) \
             ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='dbtool ledger v2'"
        ))
        .await?;
    let last: Option<String> = db
        .conn
        .query_first(format!("SELECT hash FROM {tb} ORDER BY id DESC LIMIT 1"))
        .await?;
    if last.as_deref() == Some(hash) {
        return Ok(false);
    }
    // The body as a parameter: no hex copy of it (a snapshot of hundreds of tables is a few
    // hundred KiB, and a migrate run must stay under 8 MiB).
    let insert = format!("INSERT INTO {tb} (taken_at, hash, body) VALUES (UTC_TIMESTAMP(6), ?, ?)");
    let stmt = db.conn.prep(insert).await?;
    let done = db.conn.exec_drop(&stmt, (hash, body)).await;
    let _ = db.conn.close(stmt).await;
    done?;
    Ok(true)
}

/// The last snapshot: when it was taken (UTC) and its body; None if none was taken.
pub(crate) async fn last(db: &mut Db, t: &Tables) -> Result<Option<(String, String)>, DbError> {
    let sql = format!(
        "SELECT DATE_FORMAT(taken_at, '%Y-%m-%d %H:%i:%s'), body FROM {} ORDER BY id DESC LIMIT 1",
        table(t)
    );
    match db.conn.query_first::<(String, String), _>(sql).await {
        Ok(r) => Ok(r),
        Err(mysql_async::Error::Server(e)) if e.code == codes::NO_SUCH_TABLE => Ok(None),
        Err(e) => Err(e.into()),
    }
}
