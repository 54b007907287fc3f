//! Reading the ledger tables of the tools teams come from (migrate:import), by their documented
//! layouts (Alembic's `alembic_version`: one `version_num` row per head). dbtool only reads
//! them; it never writes or drops them.

use mysql_async::prelude::Queryable;

use super::{Db, DbError, codes};
use crate::config::Ident;

/// A tool whose ledger dbtool can import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    Knex,
    Flyway,
    GolangMigrate,
    Dbmate,
    Sqlx,
    Alembic,
}

impl Tool {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::Knex => "knex",
            Tool::Flyway => "flyway",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Dbmate => "dbmate",
            Tool::Sqlx => "sqlx",
            Tool::Alembic => "alembic",
        }
    }

    /// The ledger table the tool creates by default.
    pub(crate) fn default_table(self) -> &'static str {
        match self {
            Tool::Knex => "knex_migrations",
            Tool::Flyway => "flyway_schema_history",
            Tool::GolangMigrate | Tool::Dbmate => "schema_migrations",
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Alembic => "alembic_version",
        }
    }

    /// The columns its table must have, and a column that tells it from the tool sharing its
    /// table name (golang-migrate's `dirty`), with whether it must be there or must not.
    pub(crate) fn columns(self) -> (&'static [&'static str], Option<(&'static str, bool)>) {
        match self {
            Tool::Knex => (&["id", "name"], None),
            Tool::Flyway => (
                &["installed_rank", "version", "script", "type", "success"],
                None,
            ),
            Tool::GolangMigrate => (&["version", "dirty"], None),
            Tool::Dbmate => (&["version"], Some(("dirty", false))),
            Tool::Sqlx => (&["version", "description", "success"], None),
            Tool::Alembic => (&["version_num"], None),
        }
    }

    /// One row per entry: (version, what the tool calls it, 1 if it succeeded, 1 if it stands
    /// for every version up to it).
    fn query(self, t: &str) -> String {
        match self {
            Tool::Knex => format!("SELECT name, name, 1, 0 FROM {t} ORDER BY id"),
            // BASELINE rows stand for every version up to theirs; SCHEMA rows only mark that
            // Flyway created the schema; repeatable migrations (no version) are not versions.
            Tool::Flyway => format!(
                "SELECT CAST(version AS CHAR), script, CAST(success AS SIGNED), \
                 IF(type = 'BASELINE', 1, 0) FROM {t} \
                 WHERE type <> 'SCHEMA' AND version IS NOT NULL ORDER BY installed_rank"
            ),
            // One row: the current version; every migration up to it is applied. `dirty`: the
            // last one failed part-way.
            Tool::GolangMigrate => format!(
                "SELECT CAST(version AS CHAR), CONCAT('version ', version), IF(dirty, 0, 1), 1 \
                 FROM {t}"
            ),
            Tool::Dbmate => {
                format!("SELECT CAST(version AS CHAR), CAST(version AS CHAR), 1, 0 FROM {t}")
            }
            Tool::Sqlx => format!(
                "SELECT CAST(version AS CHAR), description, CAST(success AS SIGNED), 0 FROM {t} \
                 ORDER BY version"
            ),
            // One row per head revision: not history (that is in Alembic's scripts, and the
            // mapping file says which migrations a head stands for).
            Tool::Alembic => {
                format!("SELECT version_num, version_num, 1, 0 FROM {t} ORDER BY version_num")
            }
        }
    }
}

/// One entry of another tool's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) version: String,
    pub(crate) label: String,
    pub(crate) succeeded: bool,
    /// It stands for every version up to its own (golang-migrate, a Flyway baseline).
    pub(crate) up_to: bool,
}

/// The columns of table `name` in the current database (empty if there is no such table).
pub(crate) async fn columns_of(db: &mut Db, name: &str) -> Result<Vec<String>, DbError> {
    Ok(db
        .conn
        .exec::<String, _, _>(
            "SELECT LOWER(COLUMN_NAME) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            (name,),
        )
        .await?)
}

/// The entries of `tool`'s ledger table `table` in the current database; None if the table
/// does not exist.
pub(crate) async fn entries(
    db: &mut Db,
    tool: Tool,
    table: &Ident,
) -> Result<Option<Vec<Entry>>, DbError> {
    let rows = db
        .conn
        .query::<(Option<String>, Option<String>, i64, i64), _>(tool.query(&table.to_string()))
        .await;
    match rows {
        Ok(rows) => Ok(Some(
            rows.into_iter()
                .map(|(v, label, ok, up_to)| Entry {
                    version: v.unwrap_or_default(),
                    label: label.unwrap_or_default(),
                    succeeded: ok != 0,
                    up_to: up_to != 0,
                })
                .collect(),
        )),
        Err(mysql_async::Error::Server(e)) if e.code == codes::NO_SUCH_TABLE => Ok(None),
        Err(e) => Err(e.into()),
    }
}
