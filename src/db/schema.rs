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
