//! Statements dbtool refuses before anything runs, because no run of them could be recorded
//! truthfully: writes to dbtool's own ledger tables, dropping the database being migrated,
//! `LOCK TABLES` in a migration (the session could no longer write the ledger: ERROR 1100) and
//! `FLUSH TABLES WITH READ LOCK` (which blocks every write, the ledger's included).
//!
//! The checks read a statement's words outside quotes and comments, so a string that merely
//! holds a ledger table's name is not a hazard. What they cannot see (a procedure that writes
//! the ledger) is caught when it runs: every ledger write is followed by a guard.

use std::fmt;

use super::tokens::skip_quoted;

/// Why a statement is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hazard {
    /// It writes to a ledger table (named as configured).
    WritesLedger(String),
    /// It drops the database dbtool is working on.
    DropsDatabase(String),
    /// `LOCK TABLES` in a migration.
    LockTables,
    /// `FLUSH TABLES WITH READ LOCK`.
    GlobalReadLock,
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hazard::WritesLedger(t) => write!(
                f,
                "it writes to dbtool's own ledger table `{t}`, where dbtool records every run: \
                 a file cannot change that record (use `dbtool migrate:repair` or \
                 `migrate:resolve` to settle the ledger)"
            ),
            Hazard::DropsDatabase(d) => write!(
                f,
                "it drops `{d}`, the database being migrated, and its ledger with it (use \
                 `dbtool db:drop`)"
            ),
            Hazard::LockTables => write!(
                f,
                "LOCK TABLES stops the session from writing dbtool's ledger after each \
                 statement (ERROR 1100), and the transactions dbtool opens would release the \
                 locks anyway; remove the LOCK TABLES and UNLOCK TABLES lines (mysqldump \
                 --skip-add-locks writes none; a seed may keep them)"
            ),
            Hazard::GlobalReadLock => write!(
                f,
                "FLUSH TABLES WITH READ LOCK blocks every write, dbtool's ledger writes included"
            ),
        }
    }
}

/// What the checks compare with.
#[derive(Debug, Clone)]
pub struct Guarded<'a> {
    /// The ledger tables' names.
    pub tables: &'a [&'a str],
    /// The database being migrated.
    pub database: &'a str,
    /// Checking a migration (LOCK TABLES is refused) rather than a seed.
    pub migration: bool,
}

/// The statement's hazard, if it has one.
pub fn hazard(sql: &str, g: &Guarded<'_>) -> Option<Hazard> {
    let words = words(sql);
    let first = words.first().map(|w| w.to_ascii_uppercase());
    let second = words.get(1).map(|w| w.to_ascii_uppercase());
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    match first.as_deref() {
        Some("LOCK") if g.migration && matches!(second.as_deref(), Some("TABLE" | "TABLES")) => {
            return Some(Hazard::LockTables);
        }
        Some("FLUSH") if upper.windows(3).any(|w| w == ["WITH", "READ", "LOCK"]) => {
            return Some(Hazard::GlobalReadLock);
        }
        Some("DROP") if matches!(second.as_deref(), Some("DATABASE" | "SCHEMA")) => {
            let name = words
                .iter()
                .skip(2)
                .find(|w| !matches!(w.to_ascii_uppercase().as_str(), "IF" | "EXISTS"));
            if let Some(name) = name
                && *name == g.database
            {
                return Some(Hazard::DropsDatabase(g.database.to_owned()));
            }
            return None;
        }
        Some(
            "INSERT" | "REPLACE" | "UPDATE" | "DELETE" | "TRUNCATE" | "DROP" | "ALTER" | "RENAME"
            | "LOCK" | "LOAD" | "CREATE",
        ) => {}
        _ => return None,
    }
    // A write, or DDL: does it name a ledger table?
    let named = g
        .tables
        .iter()
        .find(|t| words.iter().any(|w| w.eq_ignore_ascii_case(t)))?;
    // CREATE names a ledger table harmlessly when it only reads it (a view, a trigger on
    // another table); it writes to one as `CREATE TABLE <ledger>` or a trigger ON it.
    if first.as_deref() == Some("CREATE") {
        let target = upper
            .iter()
            .position(|w| w == "TABLE" || w == "ON")
            .and_then(|i| words.get(i + 1));
        if !target.is_some_and(|t| t.eq_ignore_ascii_case(named)) {
            return None;
        }
    }
    Some(Hazard::WritesLedger((*named).to_owned()))
}

/// The statement's words and identifiers, outside quotes and comments; a backquoted
/// identifier is one word, a qualified name `db`.`t` is two.
pub(crate) fn words(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => i = skip_quoted(b, i),
            b'`' => {
                let end = skip_quoted(b, i);
                out.push(&sql[i + 1..end.saturating_sub(1).max(i + 1)]);
                i = end;
            }
            b'#' => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p)
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p)
            }
            b'/' if b.get(i + 1) == Some(&b'*') && !matches!(b.get(i + 2), Some(b'!')) => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2)
            }
            _ if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'$'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(&sql[start..i]);
            }
            _ => i += 1,
        }
    }
    out
}

/// The statement cut at its commas outside quotes, comments and parentheses (an ALTER
/// TABLE's clauses, say).
pub(crate) fn clauses(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let (mut out, mut start, mut depth, mut i) = (Vec::new(), 0, 0usize, 0);
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' | b'`' => {
                i = skip_quoted(b, i);
                continue;
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                out.push(&sql[start..i]);
                start = i + 1;
            }
            b'#' => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p);
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&sql[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLES: [&str; 3] = ["dbtool_migrations", "dbtool_seeds", "dbtool_log"];

    fn check(sql: &str, migration: bool) -> Option<Hazard> {
        hazard(
            sql,
            &Guarded {
                tables: &TABLES,
                database: "app",
                migration,
            },
        )
    }

    #[test]
    fn writes_to_the_ledger_and_the_database_are_refused() {
        let ledger = |t: &str| Some(Hazard::WritesLedger(t.to_owned()));
        let cases = [
            (
                "TRUNCATE TABLE dbtool_migrations",
                ledger("dbtool_migrations"),
            ),
            (
                "DELETE FROM `app`.`dbtool_seeds` WHERE 1",
                ledger("dbtool_seeds"),
            ),
            ("drop table DBTOOL_LOG", ledger("dbtool_log")),
            (
                "RENAME TABLE dbtool_migrations TO x",
                ledger("dbtool_migrations"),
            ),
            (
                "UPDATE dbtool_migrations SET state = 'applied'",
                ledger("dbtool_migrations"),
            ),
            (
                "CREATE TRIGGER t BEFORE INSERT ON dbtool_log FOR EACH ROW SET @x = 1",
                ledger("dbtool_log"),
            ),
            (
                "DROP DATABASE app",
                Some(Hazard::DropsDatabase("app".into())),
            ),
            (
                "DROP SCHEMA IF EXISTS `app`",
                Some(Hazard::DropsDatabase("app".into())),
            ),
            ("LOCK TABLES t WRITE", Some(Hazard::LockTables)),
            ("FLUSH TABLES WITH READ LOCK", Some(Hazard::GlobalReadLock)),
        ];
        for (sql, want) in cases {
            assert_eq!(check(sql, true), want, "{sql}");
        }
    }

    #[test]
    fn reads_quotes_comments_and_other_names_are_not_hazards() {
        for sql in [
            "SELECT * FROM dbtool_migrations",
            "INSERT INTO notes VALUES ('dbtool_migrations')",
            "INSERT INTO notes VALUES (1) -- dbtool_log",
            "UPDATE t SET a = 1 /* dbtool_seeds */",
            "CREATE VIEW v AS SELECT version FROM dbtool_migrations",
            "CREATE TABLE dbtool_migrations_archive (id INT)",
            "DROP DATABASE other",
            "UNLOCK TABLES",
            "FLUSH TABLES",
            "ALTER TABLE accounts ADD COLUMN dbtool_note INT",
        ] {
            assert_eq!(check(sql, true), None, "{sql}");
        }
        // A seed may lock tables (mysqldump writes LOCK TABLES around its INSERTs).
        assert_eq!(check("LOCK TABLES t WRITE", false), None);
    }
}
