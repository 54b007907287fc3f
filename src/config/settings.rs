//! An environment's settings other than its connection: folders, ledger table names, the lock
//! timeout and the safety switches, with Knex's spellings accepted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ConfigError;
use super::ident::Ident;
use super::loader::{self, Loader, Section};

/// An environment's settings other than its connection.
pub(super) struct Settings {
    pub(super) migrations_dir: PathBuf,
    pub(super) seeds_dir: PathBuf,
    pub(super) migrations_table: Ident,
    pub(super) seeds_table: Ident,
    pub(super) log_table: Ident,
    pub(super) lock_timeout: Duration,
    pub(super) ddl: DdlWait,
    pub(super) protected: bool,
    pub(super) out_of_order: bool,
    pub(super) dump_schema: Option<PathBuf>,
}

/// One `rule = "severity"` line of the knexfile's `[lint]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintSetting {
    pub rule: String,
    pub value: String,
    /// `path:line`, for messages.
    pub at: String,
}

/// How long a migration's statements may wait for a lock, and how often dbtool tries again
/// (knexfile `ddl_lock_wait`, `ddl_retries`): a DDL statement waiting for a metadata lock
/// blocks every later query on its table, so it must not wait for long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdlWait {
    /// The session's `lock_wait_timeout` while a migration's statements run. Zero: the
    /// server's own (no bound set).
    pub wait: Duration,
    /// Further tries of a statement that gave up waiting, with a growing pause between.
    pub retries: u32,
}

impl DdlWait {
    pub const DEFAULT: DdlWait = DdlWait {
        wait: Duration::from_secs(5),
        retries: 3,
    };
}

/// `lock_timeout`, and the migration statements' lock waits.
fn waits(
    loader: &Loader<'_>,
    environment: &str,
    section: Option<&Section>,
) -> Result<(Duration, DdlWait), ConfigError> {
    let lock_timeout = match section.and_then(|s| s.get("lock_timeout")) {
        None => Duration::from_secs(60),
        Some(v) => loader.seconds(environment, "lock_timeout", v)?,
    };
    let ddl = DdlWait {
        wait: match section.and_then(|s| s.get("ddl_lock_wait")) {
            None => DdlWait::DEFAULT.wait,
            Some(v) => loader.seconds(environment, "ddl_lock_wait", v)?,
        },
        retries: match section.and_then(|s| s.get("ddl_retries")) {
            None => DdlWait::DEFAULT.retries,
            Some(v) => loader.count(environment, "ddl_retries", v, 100)?,
        },
    };
    Ok((lock_timeout, ddl))
}

pub(super) fn settings(
    loader: &Loader<'_>,
    environment: &str,
    section: Option<&Section>,
    root: &Path,
) -> Result<Settings, ConfigError> {
    let get_str = |key: &str| -> Result<Option<String>, ConfigError> {
        match section.and_then(|s| s.get(key)) {
            None => Ok(None),
            Some(v) => loader.string(environment, key, v).map(Some),
        }
    };
    // Knex's `[ENV.migrations] directory`, `tableName` and `[ENV.seeds] directory` are the
    // same settings under other names; giving both spellings is an error.
    let knex = |table: &str, key: &str, ours: &str| -> Result<Option<String>, ConfigError> {
        let Some((_, loader::Value::Table(t))) = section.and_then(|s| s.get(table)) else {
            return Ok(None);
        };
        let Some(v) = t.get(key) else { return Ok(None) };
        if let Some((line, _)) = section.and_then(|s| s.get(ours)) {
            return Err(ConfigError::Invalid {
                at: loader.at(*line, &format!("{environment}.{ours}")),
                problem: format!("also given as {table}.{key}: keep one"),
            });
        }
        loader
            .string(&format!("{environment}.{table}"), key, v)
            .map(Some)
    };
    let get_or = |ours: &str, table: &str, key: &str| -> Result<Option<String>, ConfigError> {
        match knex(table, key, ours)? {
            Some(v) => Ok(Some(v)),
            None => get_str(ours),
        }
    };
    let dir = |s: Option<String>, default: &str| root.join(s.unwrap_or_else(|| default.into()));
    let migrations_dir = dir(
        get_or("migrations_dir", "migrations", "directory")?,
        "db/migrations",
    );
    let seeds_dir = dir(get_or("seeds_dir", "seeds", "directory")?, "db/seeds");
    let table = |s: Option<String>, key: &str, default: &str| -> Result<Ident, ConfigError> {
        let name = s.unwrap_or_else(|| default.into());
        Ident::table(&name).map_err(|problem| ConfigError::Invalid {
            at: format!("{environment}.{key}"),
            problem: problem.to_string(),
        })
    };
    let migrations_table = table(
        get_or("migrations_table", "migrations", "tableName")?,
        "migrations_table",
        "dbtool_migrations",
    )?;
    let seeds_table = table(get_str("seeds_table")?, "seeds_table", "dbtool_seeds")?;
    let log_table = table(get_str("log_table")?, "log_table", "dbtool_log")?;

    let (lock_timeout, ddl) = waits(loader, environment, section)?;
    let protected = match section.and_then(|s| s.get("protected")) {
        None => false,
        Some(v) => loader.boolean(environment, "protected", v)?,
    };
    let out_of_order = match section.and_then(|s| s.get("out_of_order")) {
        None => true,
        Some(v) => loader.boolean(environment, "out_of_order", v)?,
    };

    let dump_schema = dump_schema(loader, environment, section, root, &migrations_dir)?;
    Ok(Settings {
        dump_schema,
        migrations_dir,
        seeds_dir,
        migrations_table,
        seeds_table,
        log_table,
        lock_timeout,
        ddl,
        protected,
        out_of_order,
    })
}

/// `dump_schema`: `true` writes schema.sql beside the migrations folder (where schema:dump
/// writes it), a string names the file.
fn dump_schema(
    loader: &Loader<'_>,
    environment: &str,
    section: Option<&Section>,
    root: &Path,
    migrations_dir: &Path,
) -> Result<Option<PathBuf>, ConfigError> {
    Ok(match section.and_then(|s| s.get("dump_schema")) {
        None => None,
        Some(v @ (_, loader::Value::Str(_))) => {
            Some(root.join(loader.string(environment, "dump_schema", v)?))
        }
        Some(v) => loader
            .boolean(environment, "dump_schema", v)?
            .then(|| migrations_dir.parent().unwrap_or(root).join("schema.sql")),
    })
}
