//! What the online path asks the server: the ALTER's table, how big it is, what an engine left
//! behind, and gh-ost's preconditions. The engines themselves are in `engine`.

mod engine;

pub(crate) use engine::{DefaultsFile, Quirks, command};

use mysql_async::prelude::Queryable as _;

use super::{Db, DbError};

/// An `ALTER TABLE`, cut where an engine wants it: the table, and the changes (`--alter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alter {
    pub(crate) database: Option<String>,
    pub(crate) table: String,
    pub(crate) spec: String,
}

/// The parts of `ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] [db.]table <changes>`; None for any
/// other statement.
pub(crate) fn parse_alter(sql: &str) -> Option<Alter> {
    let mut rest = keyword(sql, "ALTER")?;
    for optional in ["ONLINE", "IGNORE"] {
        if let Some(r) = keyword(rest, optional) {
            rest = r;
        }
    }
    rest = keyword(rest, "TABLE")?;
    if let Some(r) = keyword(rest, "IF") {
        rest = keyword(r, "EXISTS")?;
    }
    let (first, r) = ident(rest)?;
    let (database, table, r) = match skip_space(r).strip_prefix('.') {
        Some(r) => {
            let (second, r) = ident(r)?;
            (Some(first), second, r)
        }
        None => (None, first, r),
    };
    let spec = r.trim().trim_end_matches(';').trim();
    (!spec.is_empty()).then(|| Alter {
        database,
        table,
        spec: spec.to_owned(),
    })
}

fn skip_space(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if s.starts_with("--") || s.starts_with('#') {
            s = s.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(r) = s.strip_prefix("/*") {
            s = r.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return s;
        }
    }
}

fn keyword<'s>(s: &'s str, kw: &str) -> Option<&'s str> {
    let s = skip_space(s);
    let head = s.get(..kw.len())?;
    let next = s[kw.len()..].chars().next();
    (head.eq_ignore_ascii_case(kw) && !next.is_some_and(is_ident_char)).then(|| &s[kw.len()..])
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

fn ident(s: &str) -> Option<(String, &str)> {
    let s = skip_space(s);
    if let Some(r) = s.strip_prefix('`') {
        let mut name = String::new();
        let mut chars = r.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '`' {
                if r[i + 1..].starts_with('`') {
                    name.push('`');
                    chars.next();
                    continue;
                }
                return Some((name, &r[i + 1..]));
            }
            name.push(c);
        }
        return None;
    }
    let end = s.find(|c: char| !is_ident_char(c)).unwrap_or(s.len());
    (end > 0).then(|| (s[..end].to_owned(), &s[end..]))
}

/// `db`.`table`, quoted.
pub(crate) fn qualified(database: &str, table: &str) -> String {
    let q = |s: &str| format!("`{}`", s.replace('`', "``"));
    format!("{}.{}", q(database), q(table))
}

/// information_schema's estimate of a table's rows and its data + index bytes (None: no such
/// table).
pub(crate) async fn table_size(
    db: &mut Db,
    database: &str,
    table: &str,
) -> Result<Option<(u64, u64)>, DbError> {
    // MySQL answers from a cache of up to a day old unless told not to (MariaDB has no such
    // cache, nor the variable).
    let _ = db
        .conn
        .query_drop("SET SESSION information_schema_stats_expiry = 0")
        .await;
    let row: Option<(Option<u64>, Option<u64>)> = db
        .conn
        .exec_first(
            "SELECT TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (database, table),
        )
        .await?;
    Ok(row.map(|(r, b)| (r.unwrap_or(0), b.unwrap_or(0))))
}

/// Refreshes the table's statistics: pt-online-schema-change copies a table it believes small
/// in one chunk, which locks every row it reads for the whole copy (a table loaded since its
/// statistics were taken shows 0 rows, on MySQL for up to a day).
pub(crate) async fn analyze(db: &mut Db, database: &str, table: &str) -> Result<(), DbError> {
    let _: Vec<mysql_async::Row> = db
        .conn
        .query(format!("ANALYZE TABLE {}", qualified(database, table)))
        .await?;
    Ok(())
}

/// What an engine left of an earlier run on `table`: pt-online-schema-change's `_t_new` and
/// `_t_old` tables and `pt_osc_<db>_<t>_*` triggers, gh-ost's `_t_gho`, `_t_ghc` and `_t_del`
/// tables; as the statements that remove them.
pub(crate) async fn leftovers(
    db: &mut Db,
    database: &str,
    table: &str,
) -> Result<Vec<String>, DbError> {
    let tables: Vec<String> = db
        .conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
             AND TABLE_NAME IN (?, ?, ?, ?, ?, ?) ORDER BY TABLE_NAME",
            (
                database,
                format!("_{table}_new"),
                format!("_{table}_old"),
                format!("__{table}_new"),
                format!("_{table}_gho"),
                format!("_{table}_ghc"),
                format!("_{table}_del"),
            ),
        )
        .await?;
    let triggers: Vec<String> = db
        .conn
        .exec(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? \
             AND EVENT_OBJECT_TABLE = ? AND TRIGGER_NAME LIKE 'pt\\_osc\\_%' ORDER BY 1",
            (database, table),
        )
        .await?;
    let mut out: Vec<String> = triggers
        .iter()
        .map(|t| format!("DROP TRIGGER IF EXISTS {};", qualified(database, t)))
        .collect();
    out.extend(
        tables
            .iter()
            .map(|t| format!("DROP TABLE IF EXISTS {};", qualified(database, t))),
    );
    Ok(out)
}

/// gh-ost's preconditions the server and the table fail, each said as the user fixes it.
pub(crate) async fn gh_ost_problems(
    db: &mut Db,
    database: &str,
    table: &str,
) -> Result<Vec<String>, DbError> {
    let (log_bin, format, image): (Option<String>, Option<String>, Option<String>) = db
        .conn
        .query_first("SELECT @@log_bin, @@binlog_format, @@binlog_row_image")
        .await?
        .unwrap_or_default();
    let mut out = Vec::new();
    if !matches!(log_bin.as_deref(), Some("1" | "ON")) {
        out.push("the binary log is off (log_bin): gh-ost reads the changes from it".to_owned());
    }
    if format.as_deref() != Some("ROW") {
        out.push(format!(
            "binlog_format is {}, not ROW",
            format.as_deref().unwrap_or("unknown")
        ));
    }
    if image.as_deref() != Some("FULL") {
        out.push(format!(
            "binlog_row_image is {}, not FULL",
            image.as_deref().unwrap_or("unknown")
        ));
    }
    let triggers: Option<u64> = db
        .conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? \
             AND EVENT_OBJECT_TABLE = ?",
            (database, table),
        )
        .await?;
    if triggers.unwrap_or(0) > 0 {
        out.push(format!(
            "{table} has triggers, which gh-ost does not support"
        ));
    }
    let fks: Option<u64> = db
        .conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.KEY_COLUMN_USAGE WHERE \
             REFERENCED_TABLE_NAME IS NOT NULL AND ((TABLE_SCHEMA = ? AND TABLE_NAME = ?) OR \
             (REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?))",
            (database, table, database, table),
        )
        .await?;
    if fks.unwrap_or(0) > 0 {
        out.push(format!(
            "{table} has foreign keys (or is referenced by one), which gh-ost does not support: \
             use tool = \"pt-osc\""
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_alter_statements_where_an_engine_wants_them() {
        let a =
            parse_alter("ALTER TABLE orders ADD COLUMN note TEXT, ADD INDEX (note(10))").unwrap();
        assert_eq!((a.database, a.table.as_str()), (None, "orders"));
        assert_eq!(a.spec, "ADD COLUMN note TEXT, ADD INDEX (note(10))");
        let a = parse_alter("alter online ignore table `app`.`my``t` /* c */ MODIFY v BIGINT;")
            .unwrap();
        assert_eq!(
            (a.database.as_deref(), a.table.as_str()),
            (Some("app"), "my`t")
        );
        assert_eq!(a.spec, "/* c */ MODIFY v BIGINT");
        let a = parse_alter("ALTER TABLE IF EXISTS t ENGINE=InnoDB").unwrap();
        assert_eq!(a.table, "t");
        assert_eq!(parse_alter("ALTER TABLEX t ADD c INT"), None);
        assert_eq!(parse_alter("ALTER VIEW v AS SELECT 1"), None);
        assert_eq!(parse_alter("ALTER TABLE t"), None);
        assert_eq!(parse_alter("CREATE TABLE t (id INT)"), None);
    }
}
