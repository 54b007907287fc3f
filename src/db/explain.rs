//! The server side of `--explain`: what the live tables hold (information_schema's size and
//! row estimates, MySQL's row versions, foreign keys), and a scratch schema of empty copies
//! where statements are tried.
//!
//! The copies come from `SHOW CREATE TABLE` run under `FOREIGN_KEY_CHECKS = 0` (not `CREATE
//! TABLE … LIKE`, which drops foreign keys, and foreign keys change what an ALTER can do). A
//! rebuild shows as a new InnoDB table id (`INNODB_TABLES` on MySQL, `INNODB_SYS_TABLES` on
//! MariaDB): an in-place ALTER that only adds an index keeps the id, one that rebuilds gets a
//! new one.

use mysql_async::prelude::Queryable;

use super::{Db, DbError, Flavor};

/// One table of the live database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveTable {
    pub(crate) name: String,
    /// information_schema.TABLES.TABLE_ROWS: an estimate for InnoDB.
    pub(crate) rows: u64,
    /// DATA_LENGTH + INDEX_LENGTH.
    pub(crate) bytes: u64,
    pub(crate) row_format: Option<String>,
    /// MySQL 8.0.29+: INNODB_TABLES.TOTAL_ROW_VERSIONS (instant ADD/DROP COLUMNs since the
    /// last rebuild).
    pub(crate) versions: Option<u64>,
}

/// What `--explain` reads of the live database before it starts.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub(crate) database: String,
    pub(crate) version: String,
    pub(crate) charset: String,
    pub(crate) collation: String,
    pub(crate) tables: Vec<LiveTable>,
    /// Foreign keys between its tables: (child, parent).
    pub(crate) references: Vec<(String, String)>,
}

impl Live {
    pub(crate) fn table(&self, name: &str) -> Option<&LiveTable> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// A row of information_schema.TABLES: name, rows, data and index length, row format.
type TableRow = (
    String,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<String>,
);

/// Reads the live database `db` is connected to.
pub(crate) async fn read_live(db: &mut Db) -> Result<Live, DbError> {
    let flavor = db.flavor().await?;
    if flavor == Flavor::MySql {
        // MySQL caches information_schema's table statistics for a day by default.
        db.conn
            .query_drop("SET SESSION information_schema_stats_expiry = 0")
            .await?;
    }
    let (database, version, charset, collation): (String, String, String, String) = db
        .conn
        .query_first(
            "SELECT SCHEMA_NAME, VERSION(), DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()",
        )
        .await?
        .ok_or_else(|| DbError::Driver("no current database".into()))?;
    let rows: Vec<TableRow> = db
        .conn
        .query(
            "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH, ROW_FORMAT \
             FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')",
        )
        .await?;
    let versions = row_versions(db, &database).await;
    let tables = rows
        .into_iter()
        .map(|(name, rows, data, index, row_format)| LiveTable {
            versions: versions
                .as_ref()
                .and_then(|v| v.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)),
            name,
            rows: rows.unwrap_or(0),
            bytes: data.unwrap_or(0) + index.unwrap_or(0),
            row_format,
        })
        .collect();
    let references = db
        .conn
        .query(
            "SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = DATABASE() AND UNIQUE_CONSTRAINT_SCHEMA = DATABASE()",
        )
        .await?;
    Ok(Live {
        database,
        version,
        charset,
        collation,
        tables,
        references,
    })
}

/// InnoDB's name of a table or of one of its partitions (`db/t`, `db/t#p#p0`) read as the
/// table's name, when it is a table of `schema` (names that InnoDB encodes, with characters
/// other than letters, digits and `_`, do not match: their versions stay unknown).
fn innodb_table<'a>(innodb: &'a str, schema: &str) -> Option<&'a str> {
    let rest = innodb.strip_prefix(schema)?.strip_prefix('/')?;
    Some(match rest.find("#p#").or_else(|| rest.find("#P#")) {
        Some(at) => &rest[..at],
        None => rest,
    })
}

/// MySQL's TOTAL_ROW_VERSIONS of every table of `schema` (the most of its partitions); None
/// where the server has no such column (MariaDB, MySQL before 8.0.29).
async fn row_versions(db: &mut Db, schema: &str) -> Option<Vec<(String, u64)>> {
    let rows: Vec<(String, u64)> = db
        .conn
        .query(
            "SELECT NAME, TOTAL_ROW_VERSIONS FROM information_schema.INNODB_TABLES \
             WHERE NAME LIKE CONCAT(DATABASE(), '/%')",
        )
        .await
        .ok()?;
    let mut out: Vec<(String, u64)> = Vec::new();
    for (name, k) in rows {
        let Some(t) = innodb_table(&name, schema) else {
            continue;
        };
        match out.iter_mut().find(|(n, _)| n == t) {
            Some(slot) => slot.1 = slot.1.max(k),
            None => out.push((t.to_owned(), k)),
        }
    }
    Some(out)
}

/// `` `name` ``.
pub(crate) fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Creates the scratch schema with the live database's character set and collation (tables
/// created without their own take them).
pub(crate) async fn create_scratch(db: &mut Db, name: &str, live: &Live) -> Result<(), DbError> {
    db.conn
        .query_drop(format!(
            "CREATE DATABASE {} CHARACTER SET {} COLLATE {}",
            quoted(name),
            quoted(&live.charset),
            quoted(&live.collation)
        ))
        .await?;
    Ok(())
}

/// Drops the scratch schema.
pub(crate) async fn drop_scratch(db: &mut Db, name: &str) -> Result<(), DbError> {
    db.conn
        .query_drop("SET SESSION FOREIGN_KEY_CHECKS = 0")
        .await?;
    db.conn
        .query_drop(format!("DROP DATABASE IF EXISTS {}", quoted(name)))
        .await?;
    Ok(())
}

/// Scratch schemas left by runs that were killed before they could drop theirs.
pub(crate) async fn leftovers(db: &mut Db) -> Vec<String> {
    db.conn
        .query(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME LIKE 'dbtool\\_explain\\_%'",
        )
        .await
        .unwrap_or_default()
}

/// Copies each of `names` from the live database into the current (scratch) schema, empty;
/// gives the tables whose copy failed, with the server's error. A copy takes the live table's
/// row format when the server gave it another.
pub(crate) async fn copy_tables(
    db: &mut Db,
    live: &Live,
    names: &[String],
) -> Result<Vec<(String, DbError)>, DbError> {
    db.conn
        .query_drop("SET SESSION FOREIGN_KEY_CHECKS = 0")
        .await?;
    let mut failed = Vec::new();
    for name in names {
        let show = format!(
            "SHOW CREATE TABLE {}.{}",
            quoted(&live.database),
            quoted(name)
        );
        let created: Result<Option<(String, String)>, _> = db.conn.query_first(show).await;
        let result = match created {
            Ok(Some((_, sql))) => db.conn.query_drop(sql).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            failed.push((name.clone(), e.into()));
        }
    }
    let formats: Vec<(String, Option<String>)> = db
        .conn
        .query(
            "SELECT TABLE_NAME, ROW_FORMAT FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE()",
        )
        .await?;
    for (name, format) in formats {
        let want = live.table(&name).and_then(|t| t.row_format.clone());
        if let (Some(want), true) = (&want, want != format) {
            let sql = format!("ALTER TABLE {} ROW_FORMAT={want}", quoted(&name));
            if let Err(e) = db.conn.query_drop(sql).await {
                failed.push((name, e.into()));
            }
        }
    }
    db.conn
        .query_drop("SET SESSION FOREIGN_KEY_CHECKS = 1")
        .await?;
    Ok(failed)
}

/// The InnoDB table ids of `table` in `schema` (one per partition): a rebuild changes them.
pub(crate) async fn table_ids(db: &mut Db, schema: &str, table: &str) -> Option<Vec<u64>> {
    let view = match db.flavor().await.ok()? {
        Flavor::MySql => "INNODB_TABLES",
        Flavor::MariaDb => "INNODB_SYS_TABLES",
    };
    let sql = format!(
        "SELECT NAME, TABLE_ID FROM information_schema.{view} WHERE NAME LIKE CONCAT(?, '/%')"
    );
    let rows: Vec<(String, u64)> = db.conn.exec(sql, (schema,)).await.ok()?;
    let mut ids: Vec<u64> = rows
        .into_iter()
        .filter(|(n, _)| innodb_table(n, schema) == Some(table))
        .map(|(_, id)| id)
        .collect();
    ids.sort_unstable();
    (!ids.is_empty()).then_some(ids)
}

/// MySQL's TOTAL_ROW_VERSIONS of `table` in `schema`.
pub(crate) async fn table_versions(db: &mut Db, schema: &str, table: &str) -> Option<u64> {
    let sql = "SELECT NAME, TOTAL_ROW_VERSIONS FROM information_schema.INNODB_TABLES \
               WHERE NAME LIKE CONCAT(?, '/%')";
    let rows: Vec<(String, u64)> = db.conn.exec(sql, (schema,)).await.ok()?;
    rows.into_iter()
        .filter(|(n, _)| innodb_table(n, schema) == Some(table))
        .map(|(_, k)| k)
        .max()
}

/// Gives the copy of `table` `n` row versions, as the live table has, by instant ADD and DROP
/// COLUMNs of a column of its own (two versions a pair, three for an odd count), so the server
/// answers the copy's ALTERs as it would the live table's near its limit of row versions.
pub(crate) async fn add_row_versions(db: &mut Db, table: &str, n: u64) -> Result<(), DbError> {
    let t = quoted(table);
    let (a, b) = (
        quoted("dbtool_explain_pad_a"),
        quoted("dbtool_explain_pad_b"),
    );
    let mut left = n;
    while left >= 2 {
        let mut steps = vec![format!("ADD COLUMN {a} INT")];
        if left == 3 {
            steps.push(format!("ADD COLUMN {b} INT, DROP COLUMN {a}"));
            steps.push(format!("DROP COLUMN {b}"));
        } else {
            steps.push(format!("DROP COLUMN {a}"));
        }
        left -= steps.len() as u64;
        for s in steps {
            db.conn
                .query_drop(format!("ALTER TABLE {t} {s}, ALGORITHM=INSTANT"))
                .await?;
        }
    }
    Ok(())
}

/// Puts the scratch connection back in a new session's state (before the first file and
/// between files, as the real run does), in the scratch schema, waiting at most 5 s for a metadata lock (a copy's foreign key
/// may name a live table of another database).
pub(crate) async fn reset(db: &mut Db, scratch: &str) -> Result<(), DbError> {
    db.conn.reset().await?;
    db.conn
        .query_drop(format!("USE {}", quoted(scratch)))
        .await?;
    db.conn
        .query_drop("SET SESSION lock_wait_timeout = 5")
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::innodb_table;

    #[test]
    fn innodb_names_read_as_tables_and_partitions() {
        assert_eq!(innodb_table("app/orders", "app"), Some("orders"));
        assert_eq!(innodb_table("app/orders#p#p0", "app"), Some("orders"));
        assert_eq!(innodb_table("app/orders#P#p1", "app"), Some("orders"));
        assert_eq!(innodb_table("app2/orders", "app"), None);
        assert_eq!(innodb_table("app_x/orders", "app"), None);
    }
}
