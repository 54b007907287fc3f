//! What the database commands share: a runtime, the one connection, the ledger tables, the
//! lock, and the protected-environment guard.

use std::io::IsTerminal;
use std::time::Duration;

use crate::commands::Context;
use crate::config::Ident;
use crate::db::ledger::Tables;
use crate::db::ledger::write::LockRef;
use crate::db::lock::lock_name;
use crate::db::{DEFAULT_CONNECT_TIMEOUT, Db};
use crate::error::{Error, Result, UsageError};
use crate::runner::{Conns, Signals};

/// Runs an async command body on a single-threaded runtime (one connection needs no more).
pub(crate) fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::io("the async runtime", e))?;
    rt.block_on(f)
}

/// An open connection to the configured database, with its ledger tables; once locked, a
/// second connection that holds the migration lock.
pub(crate) struct Session {
    pub(crate) db: Db,
    pub(crate) tables: Tables,
    pub(crate) lock: String,
    /// The connection holding the lock (its own, so user SQL on `db` cannot release it).
    control: Option<Db>,
    /// SIGINT and SIGTERM, caught once the lock is held.
    signals: Option<Signals>,
    lock_timeout: Duration,
    ddl: crate::config::DdlWait,
    progress: bool,
    connection: crate::config::Connection,
    timeout: Duration,
    online: crate::runner::OnlineCtx,
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
        let timeout = connect_timeout(ctx);
        let db = Db::connect_waiting(conn, timeout, ctx.config.wait).await?;
        let tables = Tables::new(
            database,
            &ctx.config.migrations_table,
            &ctx.config.seeds_table,
            &ctx.config.log_table,
        );
        let lock = lock_name(&tables);
        let database = tables.database.as_str().to_owned();
        Ok(Session {
            db,
            tables,
            lock,
            control: None,
            signals: None,
            lock_timeout: ctx.config.lock_timeout,
            ddl: ctx.config.ddl,
            progress: ctx.report.term.progress,
            online: crate::runner::OnlineCtx {
                settings: ctx.config.online.clone(),
                connection: conn.clone(),
                database,
                progress: ctx.report.term.progress,
            },
            connection: conn.clone(),
            timeout,
        })
    }

    /// Takes the migration lock on a connection of its own (waiting up to `lock_timeout`),
    /// and warns about clusters where it does not protect.
    pub(crate) async fn lock(&mut self, ctx: &Context, command: &str) -> Result<()> {
        if self.control.is_some() {
            return Ok(());
        }
        // Every command that writes says where, before it acts.
        tracing::info!(
            "{command}: {} (environment {})",
            self.connection.target(),
            ctx.config.environment
        );
        let mut control = Db::connect(&self.connection, self.timeout).await?;
        check_server(&mut control).await?;
        control.lock(&self.lock, ctx.config.lock_timeout).await?;
        self.control = Some(control);
        // From here a signal stops the running statement instead of the process (the runner
        // watches for it), so the ledger records what completed and the lock is released.
        self.signals = Some(Signals::catch());
        Ok(())
    }

    /// Settles the rows an interrupted checked run left marked (see `runner::checked`), under
    /// the lock, which it takes; returns the ledger as it then is.
    pub(crate) async fn settle_checked(
        &mut self,
        ctx: &Context,
        command: &str,
        files: &[crate::files::MigrationFile],
    ) -> Result<Vec<crate::rows::MigrationRow>> {
        self.lock(ctx, command).await?;
        crate::db::ledger::ensure(
            &mut self.db,
            &self.tables,
            crate::db::ledger::Need::Migrations,
        )
        .await?;
        let read = |rows: Option<Vec<_>>| rows.unwrap_or_default();
        let rows = read(crate::db::ledger::read_migrations(&mut self.db, &self.tables).await?);
        let lock = self.conns().lock;
        let bound = self.lock_timeout;
        if crate::runner::settle_interrupted(&mut self.db, &self.tables, &lock, files, &rows, bound)
            .await?
        {
            return Ok(read(
                crate::db::ledger::read_migrations(&mut self.db, &self.tables).await?,
            ));
        }
        Ok(rows)
    }

    /// The work connection and the lock's, for the runner. Only after [`Session::lock`].
    pub(crate) fn conns(&mut self) -> Conns<'_> {
        let (Some(control), Some(signals)) = (self.control.as_mut(), self.signals.as_mut()) else {
            unreachable!("the runner runs only under the lock, which Session::lock took");
        };
        Conns {
            lock: LockRef {
                name: self.lock.clone(),
                id: control.conn.id(),
            },
            work: &mut self.db,
            control,
            database: &self.tables.database,
            signals,
            bound: self.lock_timeout,
            progress: self.progress,
            ddl: self.ddl,
            online: &self.online,
        }
    }

    /// Releases the lock and closes the connections.
    pub(crate) async fn close(self) {
        if let Some(mut control) = self.control {
            let _ = control.unlock(&self.lock).await;
            control.close().await;
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
/// Refuses a read-only server (a replica, a standby: nothing it is sent may change it, or it
/// would drift from its primary) and warns about servers where the lock or DDL behave
/// differently (Vitess, TiDB, Galera).
async fn check_server(db: &mut Db) -> Result<()> {
    use mysql_async::prelude::Queryable;
    let row: Option<(Option<i64>, Option<String>, Option<String>)> = db
        .conn
        .query_first("SELECT @@GLOBAL.read_only, @@version_comment, VERSION()")
        .await
        .unwrap_or(None);
    let (read_only, comment, version) = row.unwrap_or((None, None, None));
    // MariaDB has no super_read_only: the query fails there, and that means "off".
    let super_read_only: Option<i64> = db
        .conn
        .query_first("SELECT @@GLOBAL.super_read_only")
        .await
        .unwrap_or(None);
    for (variable, value) in [
        ("super_read_only", super_read_only),
        ("read_only", read_only),
    ] {
        if value == Some(1) {
            return Err(Error::ReadOnly { variable });
        }
    }
    if let Some(w) = engine_warning(comment.as_deref(), version.as_deref()) {
        tracing::warn!("{w}");
    }
    warn_if_cluster(db).await;
    Ok(())
}

/// The warning for a server that speaks MySQL's protocol but is not MySQL or MariaDB.
pub(crate) fn engine_warning(comment: Option<&str>, version: Option<&str>) -> Option<&'static str> {
    let has =
        |s: Option<&str>, what: &str| s.is_some_and(|s| s.to_ascii_lowercase().contains(what));
    if has(comment, "vitess") || has(version, "vitess") {
        Some(
            "this server is Vitess: GET_LOCK is taken on one shard only and DDL may run as an \
             asynchronous online migration; dbtool's lock and its statement-by-statement record \
             do not hold there",
        )
    } else if has(version, "tidb") {
        Some(
            "this server is TiDB: its GET_LOCK and DDL differ from MySQL's (DDL is online and \
             asynchronous); dbtool's guarantees were not verified there",
        )
    } else {
        None
    }
}

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
    let target = ctx
        .config
        .connection()
        .map(|c| c.target())
        .unwrap_or_default();
    let via = ctx
        .config
        .protected_by
        .clone()
        .map(|other| (other, target.clone()));
    let stdin = std::io::stdin();
    if stdin.is_terminal() && std::io::stderr().is_terminal() {
        let whose = via
            .as_ref()
            .map_or(ctx.config.environment.as_str(), |(o, _)| o);
        eprint!("{target} is protected (environment `{whose}`). Run `{command}`? [y/N] ");
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
        via,
    })
}

#[cfg(test)]
mod tests {
    use super::{cluster_warning, engine_warning};

    #[test]
    fn vitess_and_tidb_get_a_warning_mysql_and_mariadb_do_not() {
        assert!(
            engine_warning(Some("Vitess"), Some("8.0.30-Vitess"))
                .unwrap()
                .contains("one shard")
        );
        assert!(
            engine_warning(None, Some("8.0.11-TiDB-v7.5.0"))
                .unwrap()
                .contains("TiDB")
        );
        assert_eq!(
            engine_warning(Some("MySQL Community Server - GPL"), Some("9.7.4-2")),
            None
        );
        assert_eq!(
            engine_warning(Some("Debian 12"), Some("10.11.19-MariaDB-0+deb12u1")),
            None
        );
    }

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
