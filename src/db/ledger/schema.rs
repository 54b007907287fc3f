//! The ledger's own schema: created on the first write, its version kept in each table's
//! comment (`dbtool ledger v2`), upgraded in place by a newer dbtool, refused by an older one.
//!
//! v1 (dbtool 0.1 before MySQL support) used the database's default collation, which on MySQL
//! 8+ made every ledger write fail (ERROR 1267) and on MariaDB made `Users.sql` and `users.sql`
//! one seed; it also stored versions as their file wrote them (`001`). v2 is `utf8mb4_bin`
//! throughout and stores versions without leading zeros.

use mysql_async::prelude::Queryable;

use super::read::{MIGRATION_COLUMNS, SEED_COLUMNS};
use super::write::text;
use super::{Db, DbError, Tables};
use crate::files::Version;
use crate::rows::{LedgerError, check_versions};

/// The ledger schema version this dbtool writes.
pub(crate) const SCHEMA_VERSION: u64 = 2;
const COMMENT_PREFIX: &str = "dbtool ledger v";

/// A ledger table this dbtool cannot use. Exit 3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LedgerSchemaError {
    #[error(
        "the ledger table {table} has schema version {found}; this dbtool knows versions 1 to \
         {SCHEMA_VERSION}\n  upgrade dbtool (the ledger was written by a newer one)"
    )]
    Newer { table: String, found: String },
    #[error(
        "the ledger table {table} lacks {} {}\n  it was created by another tool or changed by \
         hand; restore the columns, or point dbtool at another table (migrations_table, \
         seeds_table, log_table)",
        if missing.len() == 1 { "the column" } else { "the columns" },
        missing.join(", ")
    )]
    Columns { table: String, missing: Vec<String> },
}

/// Why the ledger tables could not be made ready for a write.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EnsureError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Schema(#[from] LedgerSchemaError),
    #[error(transparent)]
    Bad(#[from] LedgerError),
}

/// The schema version a table comment names: None for a comment dbtool did not write (read as
/// v1, the only version before comments were checked), an error for one it cannot read.
pub(super) fn check_comment(table: &str, comment: &str) -> Result<u64, LedgerSchemaError> {
    let Some(v) = comment.strip_prefix(COMMENT_PREFIX) else {
        return Ok(1);
    };
    match v.trim().parse::<u64>() {
        Ok(n @ 1..=SCHEMA_VERSION) => Ok(n),
        _ => Err(LedgerSchemaError::Newer {
            table: table.to_owned(),
            found: v.chars().take(24).collect(),
        }),
    }
}

/// Which ledger tables a write needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Migrations and the log.
    Migrations,
    /// Seeds and the log.
    Seeds,
}

/// Creates the tables `need` asks for, or checks (and upgrades) those that exist. Called under
/// the lock, before the first write.
pub(crate) async fn ensure(db: &mut Db, t: &Tables, need: Need) -> Result<(), EnsureError> {
    let wanted: [&str; 2] = match need {
        Need::Migrations => [t.migrations_name.as_str(), t.log_name.as_str()],
        Need::Seeds => [t.seeds_name.as_str(), t.log_name.as_str()],
    };
    let found: Vec<(String, String)> = db
        .conn
        .query(format!(
            "SELECT TABLE_NAME, TABLE_COMMENT FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = {} AND TABLE_NAME IN ({}, {})",
            text(t.database.as_str()),
            text(wanted[0]),
            text(wanted[1])
        ))
        .await
        .map_err(DbError::from)?;
    for name in wanted {
        let shown = format!("{}.`{name}`", t.database);
        match found.iter().find(|(n, _)| n == name) {
            None => {
                db.conn
                    .query_drop(create_table(t, name))
                    .await
                    .map_err(DbError::from)?;
            }
            Some((_, comment)) => {
                let version = check_comment(&shown, comment)?;
                let columns = required_columns(t, name);
                let missing = missing_columns(db, t, name, columns).await?;
                if !missing.is_empty() {
                    return Err(LedgerSchemaError::Columns {
                        table: shown,
                        missing,
                    }
                    .into());
                }
                if version < SCHEMA_VERSION {
                    upgrade(db, t, name).await?;
                }
            }
        }
    }
    Ok(())
}

/// The columns dbtool reads from a table (the log is only written: its insert names them all).
fn required_columns<'a>(t: &Tables, name: &str) -> &'a [&'a str] {
    if name == t.migrations_name.as_str() {
        &MIGRATION_COLUMNS
    } else if name == t.seeds_name.as_str() {
        &SEED_COLUMNS
    } else {
        &LOG_COLUMNS
    }
}

const LOG_COLUMNS: [&str; 11] = [
    "at",
    "action",
    "version",
    "name",
    "seed",
    "checksum",
    "batch",
    "outcome",
    "duration_ms",
    "actor",
    "tool_version",
];

/// Which of `columns` the table lacks.
pub(super) async fn missing_columns(
    db: &mut Db,
    t: &Tables,
    name: &str,
    columns: &[&str],
) -> Result<Vec<String>, DbError> {
    let have: Vec<String> = db
        .conn
        .query(format!(
            "SELECT LOWER(COLUMN_NAME) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            text(t.database.as_str()),
            text(name)
        ))
        .await?;
    Ok(columns
        .iter()
        .filter(|c| !have.iter().any(|h| h == *c))
        .map(|c| (*c).to_owned())
        .collect())
}

/// v1 -> v2: binary collation; versions without leading zeros (refused, naming the rows, when
/// two rows are one version).
async fn upgrade(db: &mut Db, t: &Tables, name: &str) -> Result<(), EnsureError> {
    let table = format!("{}.`{name}`", t.database);
    if name == t.migrations_name.as_str() {
        let stored: Vec<String> = db
            .conn
            .query(format!("SELECT version FROM {}", t.migrations))
            .await
            .map_err(DbError::from)?;
        let mut versions: Vec<(Version, String)> = Vec::new();
        for raw in stored {
            let v: Version = raw.parse().map_err(|e| LedgerError {
                table: table.clone(),
                key: format!("version {raw:?}"),
                problem: format!("column `version` {e}"),
            })?;
            versions.push((v, raw));
        }
        versions.sort();
        let sorted: Vec<&Version> = versions.iter().map(|(v, _)| v).collect();
        check_versions(&sorted, &table)?;
        for (v, raw) in &versions {
            if v.canonical() != raw {
                db.conn
                    .query_drop(format!(
                        "UPDATE {} SET version = {} WHERE version = {}",
                        t.migrations,
                        text(v.canonical()),
                        text(raw)
                    ))
                    .await
                    .map_err(DbError::from)?;
            }
        }
    }
    db.conn
        .query_drop(format!(
            "ALTER TABLE {}.`{name}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, \
             COMMENT = '{COMMENT_PREFIX}{SCHEMA_VERSION}'",
            t.database
        ))
        .await
        .map_err(DbError::from)?;
    Ok(())
}

fn table_options() -> String {
    format!(
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin \
         COMMENT='{COMMENT_PREFIX}{SCHEMA_VERSION}'"
    )
}

/// The DDL of one ledger table. Every table has a primary key (MySQL's
/// `sql_require_primary_key`, Galera and group replication want one).
fn create_table(t: &Tables, name: &str) -> String {
    let body = if name == t.migrations_name.as_str() {
        "version VARCHAR(32) NOT NULL PRIMARY KEY,
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
  tool_version VARCHAR(32) NOT NULL"
    } else if name == t.seeds_name.as_str() {
        "path VARCHAR(512) NOT NULL PRIMARY KEY,
  checksum CHAR(64) NOT NULL,
  checksum_algo VARCHAR(32) NOT NULL,
  first_run_at DATETIME(6) NOT NULL,
  last_run_at DATETIME(6) NOT NULL,
  run_count INT UNSIGNED NOT NULL,
  duration_ms BIGINT UNSIGNED NOT NULL,
  run_by VARCHAR(300) NOT NULL,
  tool_version VARCHAR(32) NOT NULL"
    } else {
        "id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
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
  tool_version VARCHAR(32) NOT NULL"
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {}.`{name}` (\n  {body}\n) {}",
        t.database,
        table_options()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Ident;

    fn tables() -> Tables {
        Tables::new(
            Ident::database("d").unwrap(),
            &Ident::table("m").unwrap(),
            &Ident::table("s").unwrap(),
            &Ident::table("l").unwrap(),
        )
    }

    #[test]
    fn every_ledger_table_has_a_primary_key_and_a_binary_collation() {
        let t = tables();
        for name in t.names() {
            let ddl = create_table(&t, name);
            assert!(ddl.contains("PRIMARY KEY"), "{ddl}");
            assert!(ddl.contains("COLLATE=utf8mb4_bin"), "{ddl}");
            assert!(ddl.contains("COMMENT='dbtool ledger v2'"), "{ddl}");
        }
    }

    #[test]
    fn schema_versions_are_read_from_the_comment() {
        assert_eq!(check_comment("t", "dbtool ledger v1"), Ok(1));
        assert_eq!(check_comment("t", "dbtool ledger v2"), Ok(2));
        assert_eq!(check_comment("t", ""), Ok(1));
        assert!(check_comment("t", "dbtool ledger v3").is_err());
        assert!(check_comment("t", "dbtool ledger v99999999999").is_err());
        assert!(check_comment("t", "dbtool ledger vX").is_err());
    }
}
