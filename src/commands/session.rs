//! What the database commands share: a runtime, the one connection, the ledger tables, the
//! lock, and the protected-environment guard.

use std::io::IsTerminal;
use std::time::Duration;

use crate::commands::Context;
use crate::config::Ident;
use crate::db::ledger::Tables;
use crate::db::lock::lock_name;
use crate::db::{DEFAULT_CONNECT_TIMEOUT, Db};
use crate::error::{Error, Result, UsageError};

/// Runs an async command body on a single-threaded runtime (one connection needs no more).
pub(crate) fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::io("the async runtime", e))?;
    rt.block_on(f)
}

/// An open connection to the configured database, with its ledger tables.
pub(crate) struct Session {
    pub(crate) db: Db,
    pub(crate) tables: Tables,
    pub(crate) lock: String,
    locked: bool,
}

impl Session {
    /// Connects to the configured database.
    pub(crate) async fn open(ctx: &Context) -> Result<Session> {
        let conn = ctx.config.connection()?;
        let Some(database) = conn.database.as_deref() else {
            return Err(UsageError::NoDatabase(conn.to_string()).into());
        };
        let database = Ident::database(database).map_err(|e| {
            Error::Config(crate::config::ConfigError::Invalid {
                at: "the connection's database".into(),
                problem: e.to_string(),
            })
        })?;
        let db = Db::connect(conn, connect_timeout(ctx)).await?;
        let tables = Tables::new(
            database,
            &ctx.config.migrations_table,
            &ctx.config.seeds_table,
            &ctx.config.log_table,
        );
        let lock = lock_name(&tables);
        Ok(Session {
            db,
            tables,
            lock,
            locked: false,
        })
    }

    /// Takes the migration lock (waiting up to `lock_timeout`), and warns about clusters where
    /// it does not protect.
    pub(crate) async fn lock(&mut self, ctx: &Context) -> Result<()> {
        self.db.lock(&self.lock, ctx.config.lock_timeout).await?;
        self.locked = true;
        warn_if_cluster(&mut self.db).await;
        Ok(())
    }

    /// Releases the lock and closes the connection.
    pub(crate) async fn close(mut self) {
        if self.locked {
            let _ = self.db.unlock(&self.lock).await;
        }
        self.db.close().await;
    }
}

pub(crate) fn connect_timeout(ctx: &Context) -> Duration {
    ctx.config
        .connection()
        .ok()
        .and_then(|c| c.connect_timeout)
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
}

/// Galera / Percona XtraDB Cluster: named locks are local to one node.
async fn warn_if_cluster(db: &mut Db) {
    use mysql_async::prelude::Queryable;
    let on: Option<(String, String)> = db
        .conn
        .query_first("SHOW VARIABLES LIKE 'wsrep_on'")
        .await
        .unwrap_or(None);
    if let Some(w) = cluster_warning(on.as_ref().map(|(_, v)| v.as_str())) {
        tracing::warn!("{w}");
    }
}

/// The warning for a server whose `wsrep_on` is `value` (None: no such variable, MySQL).
pub(crate) fn cluster_warning(value: Option<&str>) -> Option<&'static str> {
    value.filter(|v| v.eq_ignore_ascii_case("ON")).map(|_| {
        "this server is a Galera cluster node (wsrep_on = ON): GET_LOCK locks are local to \
         one node, so two dbtool runs against different nodes do not exclude each other; \
         run migrations against one node only"
    })
}

/// Refuses a destructive command in a protected environment unless `--yes` was given or the
/// user answers yes at a terminal. Without a terminal it never prompts.
pub(crate) fn guard(ctx: &Context, command: &'static str) -> Result<()> {
    if !ctx.config.protected || ctx.yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() && std::io::stderr().is_terminal() {
        eprint!(
            "environment `{}` is protected. Run `{command}`? [y/N] ",
            ctx.config.environment
        );
        let mut answer = String::new();
        if stdin.read_line(&mut answer).is_ok()
            && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
        {
            return Ok(());
        }
    }
    Err(Error::Protected {
        env: ctx.config.environment.clone(),
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::cluster_warning;

    #[test]
    fn galera_nodes_get_a_warning() {
        assert!(
            cluster_warning(Some("ON"))
                .unwrap()
                .contains("local to one node")
        );
        assert!(cluster_warning(Some("on")).is_some());
        assert_eq!(cluster_warning(Some("OFF")), None);
        assert_eq!(cluster_warning(None), None);
    }
}
