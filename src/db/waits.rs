//! What a connection is waiting for, and who holds it, asked from another connection (the one
//! that holds the migration lock): a metadata lock (an ALTER behind an open transaction), a
//! row lock, the global read lock or the commit lock (FLUSH TABLES WITH READ LOCK).
//!
//! MySQL names the holders exactly (performance_schema.metadata_locks and data_lock_waits).
//! MariaDB names a row lock's holder (information_schema.INNODB_LOCK_WAITS); for a metadata
//! lock it needs the METADATA_LOCK_INFO plugin, and without it dbtool names the oldest open
//! transactions, one of which holds the lock. Every lookup is best effort: a failure leaves
//! the holder unnamed, never stops the run.

use mysql_async::prelude::Queryable;

use super::{Db, DbError, Flavor};

/// A connection another one waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocker {
    pub(crate) id: u64,
    pub(crate) user: Option<String>,
    pub(crate) host: Option<String>,
    /// `Sleep` for a connection idle in its transaction.
    pub(crate) command: Option<String>,
    pub(crate) seconds: Option<u64>,
    /// Seconds its transaction has been open, when known.
    pub(crate) transaction: Option<u64>,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection {}", self.id)?;
        let mut parts = Vec::new();
        if let Some(u) = &self.user {
            parts.push(match &self.host {
                Some(h) => format!("{u}@{h}"),
                None => u.clone(),
            });
        }
        match (self.command.as_deref(), self.transaction, self.seconds) {
            (Some("Sleep"), Some(t), _) => {
                parts.push(format!("idle in a transaction open for {t} s"))
            }
            (Some("Sleep"), None, Some(s)) => parts.push(format!("idle for {s} s")),
            (_, Some(t), _) => parts.push(format!("in a transaction open for {t} s")),
            _ => {}
        }
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// What a connection waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wait {
    /// `a metadata lock on `db`.`t``, `a row lock`, `the global read lock`.
    pub(crate) what: String,
    /// Who holds it (exactly), or who probably does (`probable`).
    pub(crate) holders: Vec<Blocker>,
    pub(crate) probable: bool,
    /// The statement that waits, as the server shows it.
    pub(crate) statement: String,
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)?;
        match self.holders.as_slice() {
            [] => write!(f, " (its holder is not known)"),
            hs => {
                let list: Vec<String> = hs.iter().map(|h| h.to_string()).collect();
                let verb = if self.probable {
                    "probably held by"
                } else {
                    "held by"
                };
                write!(f, ", {verb} {}", list.join(" or "))
            }
        }
    }
}

type Row = (Option<String>, Option<String>, Option<u64>);

impl Db {
    /// The process list's (state, statement, seconds) of connection `id`.
    async fn process(&mut self, id: u32) -> Result<Option<Row>, DbError> {
        let from = match self.flavor().await? {
            Flavor::MySql => "performance_schema.processlist",
            Flavor::MariaDb => "information_schema.PROCESSLIST",
        };
        let row: Option<Row> = self
            .conn
            .exec_first(
                format!("SELECT STATE, INFO, TIME FROM {from} WHERE ID = ?"),
                (id,),
            )
            .await?;
        Ok(row)
    }

    /// What connection `id` waits for, if it waits for a lock; `skip` are dbtool's own
    /// connections, never reported as holders.
    pub(crate) async fn waiting(&mut self, id: u32, skip: &[u32]) -> Result<Option<Wait>, DbError> {
        let Some((state, info, _)) = self.process(id).await? else {
            return Ok(None);
        };
        let state = state.unwrap_or_default();
        let statement = info.unwrap_or_default();
        let flavor = self.flavor().await?;
        // A row lock: the state is the statement's own (updating, executing…).
        let rows = self.row_lock_holders(flavor, id).await.unwrap_or_default();
        if !rows.is_empty() {
            let holders = self.describe(&rows, skip).await;
            return Ok(Some(Wait {
                what: "a row lock".into(),
                holders,
                probable: false,
                statement,
            }));
        }
        let what = if state.contains("metadata lock") {
            "a metadata lock"
        } else if state.contains("global read lock")
            || state.contains("commit lock")
            || state.contains("backup lock")
        {
            "the global read lock (FLUSH TABLES WITH READ LOCK)"
        } else if state.starts_with("Waiting for") && state.contains("lock") {
            "a lock"
        } else {
            return Ok(None);
        };
        let (exact, object) = self.mdl_holders(flavor, id).await.unwrap_or_default();
        let what = match object {
            Some(o) => format!("{what} on {o}"),
            None => what.to_owned(),
        };
        if !exact.is_empty() {
            let holders = self.describe(&exact, skip).await;
            return Ok(Some(Wait {
                what,
                holders,
                probable: false,
                statement,
            }));
        }
        // MariaDB without METADATA_LOCK_INFO: an open transaction holds it.
        let mut open: Vec<u64> = self
            .conn
            .query(
                "SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX \
                 ORDER BY trx_started LIMIT 5",
            )
            .await
            .unwrap_or_default();
        open.retain(|t| *t != u64::from(id) && !skip.iter().any(|s| u64::from(*s) == *t));
        let holders = self.describe(&open, skip).await;
        Ok(Some(Wait {
            what,
            holders,
            probable: true,
            statement,
        }))
    }

    async fn row_lock_holders(&mut self, flavor: Flavor, id: u32) -> Result<Vec<u64>, DbError> {
        let sql = match flavor {
            Flavor::MySql => {
                "SELECT DISTINCT bt.PROCESSLIST_ID FROM performance_schema.data_lock_waits w \
                 JOIN performance_schema.threads rt ON rt.THREAD_ID = w.REQUESTING_THREAD_ID \
                 JOIN performance_schema.threads bt ON bt.THREAD_ID = w.BLOCKING_THREAD_ID \
                 WHERE rt.PROCESSLIST_ID = ?"
            }
            Flavor::MariaDb => {
                "SELECT DISTINCT b.trx_mysql_thread_id FROM information_schema.INNODB_LOCK_WAITS w \
                 JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
                 JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
                 WHERE r.trx_mysql_thread_id = ?"
            }
        };
        Ok(self.conn.exec(sql, (id,)).await?)
    }

    /// The connections granted the metadata lock `id` waits for, and the object's name.
    async fn mdl_holders(
        &mut self,
        flavor: Flavor,
        id: u32,
    ) -> Result<(Vec<u64>, Option<String>), DbError> {
        type M = (u64, Option<String>, Option<String>);
        let rows: Vec<M> = match flavor {
            Flavor::MySql => {
                self.conn
                    .exec(
                        "SELECT DISTINCT bt.PROCESSLIST_ID, w.OBJECT_SCHEMA, w.OBJECT_NAME \
                         FROM performance_schema.metadata_locks w \
                         JOIN performance_schema.threads wt ON wt.THREAD_ID = w.OWNER_THREAD_ID \
                         JOIN performance_schema.metadata_locks g ON g.OBJECT_TYPE = w.OBJECT_TYPE \
                          AND g.OBJECT_SCHEMA <=> w.OBJECT_SCHEMA AND g.OBJECT_NAME <=> w.OBJECT_NAME \
                          AND g.LOCK_STATUS = 'GRANTED' AND g.OWNER_THREAD_ID <> w.OWNER_THREAD_ID \
                         JOIN performance_schema.threads bt ON bt.THREAD_ID = g.OWNER_THREAD_ID \
                         WHERE wt.PROCESSLIST_ID = ? AND w.LOCK_STATUS = 'PENDING' \
                          AND bt.PROCESSLIST_ID IS NOT NULL",
                        (id,),
                    )
                    .await?
            }
            Flavor::MariaDb => {
                // Only with the METADATA_LOCK_INFO plugin; an error otherwise.
                self.conn
                    .exec(
                        "SELECT DISTINCT THREAD_ID, TABLE_SCHEMA, TABLE_NAME \
                         FROM information_schema.METADATA_LOCK_INFO WHERE THREAD_ID <> ? \
                          AND TABLE_NAME IN (SELECT TABLE_NAME FROM \
                          information_schema.METADATA_LOCK_INFO WHERE THREAD_ID = ?)",
                        (id, id),
                    )
                    .await?
            }
        };
        let object = rows.iter().find_map(|(_, s, n)| match (s, n) {
            (Some(s), Some(n)) if !n.is_empty() => Some(format!("`{s}`.`{n}`")),
            _ => None,
        });
        Ok((rows.into_iter().map(|(i, _, _)| i).collect(), object))
    }

    /// User, host, command and transaction age of each connection.
    async fn describe(&mut self, ids: &[u64], skip: &[u32]) -> Vec<Blocker> {
        let mut out = Vec::new();
        for &id in ids {
            if skip.iter().any(|s| u64::from(*s) == id) {
                continue;
            }
            let from = match self.flavor().await {
                Ok(Flavor::MySql) => "performance_schema.processlist",
                _ => "information_schema.PROCESSLIST",
            };
            type P = (Option<String>, Option<String>, Option<String>, Option<u64>);
            let p: Option<P> = self
                .conn
                .exec_first(
                    format!("SELECT USER, HOST, COMMAND, TIME FROM {from} WHERE ID = ?"),
                    (id,),
                )
                .await
                .unwrap_or(None);
            let transaction: Option<u64> = self
                .conn
                .exec_first(
                    "SELECT TIMESTAMPDIFF(SECOND, trx_started, NOW()) FROM \
                     information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?",
                    (id,),
                )
                .await
                .unwrap_or(None);
            let (user, host, command, seconds) = p.unwrap_or_default();
            out.push(Blocker {
                id,
                user,
                host,
                command,
                seconds,
                transaction,
            });
        }
        out
    }

    /// Stops the statement connection `id` runs (`KILL QUERY`); the connection stays.
    pub(crate) async fn kill_query(&mut self, id: u32) -> Result<(), DbError> {
        self.conn
            .query_drop(format!("KILL QUERY {id}"))
            .await
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_a_sentence() {
        let b = Blocker {
            id: 42,
            user: Some("app".into()),
            host: Some("10.0.0.5:51234".into()),
            command: Some("Sleep".into()),
            seconds: Some(30),
            transaction: Some(45),
        };
        assert_eq!(
            b.to_string(),
            "connection 42 (app@10.0.0.5:51234, idle in a transaction open for 45 s)"
        );
        let w = Wait {
            what: "a metadata lock on `d`.`t`".into(),
            holders: vec![b],
            probable: false,
            statement: "ALTER TABLE t ADD b INT".into(),
        };
        assert!(
            w.to_string()
                .starts_with("a metadata lock on `d`.`t`, held by connection 42")
        );
        let w = Wait {
            holders: vec![],
            ..w
        };
        assert!(w.to_string().ends_with("(its holder is not known)"));
    }
}
