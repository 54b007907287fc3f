//! What the live schema of the configured database holds, by kind and name (for
//! `migrate:baseline --check`).

use mysql_async::prelude::Queryable;

use super::{Db, DbError};

/// Every table, view, sequence, procedure, function, trigger and event of the current database,
/// as (kind, name) with the kinds `sql::objects` uses.
pub(crate) async fn objects(db: &mut Db) -> Result<Vec<(String, String)>, DbError> {
    let sql = "SELECT CASE TABLE_TYPE WHEN 'VIEW' THEN 'view' WHEN 'SEQUENCE' THEN 'sequence' \
               ELSE 'table' END, TABLE_NAME FROM information_schema.TABLES \
               WHERE TABLE_SCHEMA = DATABASE() \
               UNION ALL SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME FROM information_schema.ROUTINES \
               WHERE ROUTINE_SCHEMA = DATABASE() \
               UNION ALL SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS \
               WHERE TRIGGER_SCHEMA = DATABASE() \
               UNION ALL SELECT 'event', EVENT_NAME FROM information_schema.EVENTS \
               WHERE EVENT_SCHEMA = DATABASE()";
    Ok(db.conn.query::<(String, String), _>(sql).await?)
}

/// One object of the schema as its `SHOW CREATE` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Created {
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) sql: String,
}

/// The `SHOW CREATE` statement of an object, and the column its statement is in: the second of
/// SHOW CREATE TABLE / VIEW / SEQUENCE, the third of SHOW CREATE PROCEDURE / FUNCTION / TRIGGER,
/// the fourth of SHOW CREATE EVENT.
fn show_create(kind: &str, name: &str) -> (String, usize) {
    let quoted = format!("`{}`", name.replace('`', "``"));
    match kind {
        "table" => (format!("SHOW CREATE TABLE {quoted}"), 1),
        "sequence" => (format!("SHOW CREATE SEQUENCE {quoted}"), 1),
        "view" => (format!("SHOW CREATE VIEW {quoted}"), 1),
        "function" => (format!("SHOW CREATE FUNCTION {quoted}"), 2),
        "procedure" => (format!("SHOW CREATE PROCEDURE {quoted}"), 2),
        "trigger" => (format!("SHOW CREATE TRIGGER {quoted}"), 2),
        _ => (format!("SHOW CREATE EVENT {quoted}"), 3),
    }
}

/// The `SHOW CREATE` text of every table, view, sequence, routine, trigger and event of the
/// current database: tables and sequences first, then views, routines, triggers, events, each
/// in byte order of name.
pub(crate) async fn show_create_all(db: &mut Db) -> Result<Vec<Created>, DbError> {
    let mut names: Vec<(String, String)> = db
        .conn
        .query(
            "SELECT TABLE_TYPE, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE()",
        )
        .await?;
    let routines: Vec<(String, String)> = db
        .conn
        .query(
            "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES \
             WHERE ROUTINE_SCHEMA = DATABASE()",
        )
        .await?;
    let triggers: Vec<String> = db
        .conn
        .query("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
        .await?;
    let events: Vec<String> = db
        .conn
        .query("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()")
        .await?;
    names.extend(routines);
    names.extend(triggers.into_iter().map(|n| ("TRIGGER".to_owned(), n)));
    names.extend(events.into_iter().map(|n| ("EVENT".to_owned(), n)));
    let order = |t: &str| match t {
        "BASE TABLE" | "SYSTEM VERSIONED" => (0, "table"),
        "SEQUENCE" => (1, "sequence"),
        "VIEW" => (2, "view"),
        "FUNCTION" => (3, "function"),
        "PROCEDURE" => (4, "procedure"),
        "TRIGGER" => (5, "trigger"),
        _ => (6, "event"),
    };
    names.sort_by(|a, b| (order(&a.0).0, a.1.as_bytes()).cmp(&(order(&b.0).0, b.1.as_bytes())));
    let shows: Vec<(&'static str, String, String, usize)> = names
        .into_iter()
        .map(|(t, name)| {
            let kind = order(&t).1;
            let (show, column) = show_create(kind, &name);
            (kind, name, show, column)
        })
        .collect();
    let mut out = Vec::with_capacity(shows.len());
    // A hundred statements a packet: one round trip for each hundred objects, not each object.
    for chunk in shows.chunks(100) {
        let text: Vec<&str> = chunk.iter().map(|c| c.2.as_str()).collect();
        let mut result = db.conn.query_iter(text.join(";\n")).await?;
        for (kind, name, _, column) in chunk {
            let rows: Vec<mysql_async::Row> = result.collect().await?;
            let sql = rows
                .into_iter()
                .next()
                .and_then(|r| {
                    r.get_opt::<Option<String>, _>(*column)
                        .and_then(Result::ok)
                        .flatten()
                })
                .unwrap_or_default();
            out.push(Created {
                kind,
                name: name.clone(),
                sql,
            });
        }
        result.drop_result().await?;
    }
    Ok(out)
}
