//! The migration lock (SPEC §6): a server-side `GET_LOCK` on the connection that does the work.
//!
//! The name is derived from the database and the ledger table (at most 64 characters, the
//! server's limit), so two projects in one database with different ledger tables do not block
//! each other. `GET_LOCK` answers 1 (held), 0 (timed out) or NULL (error); all three are
//! handled. The wait is done in bounded steps (MariaDB answers NULL to a negative timeout, and
//! steps let us say who we are waiting for). The server frees the lock when the connection
//! ends, so a crashed dbtool never leaves a stale lock.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use super::ledger::Tables;
use super::{Db, DbError};

/// Who holds the lock, from `IS_USED_LOCK` and the process list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    pub(crate) connection_id: u64,
    pub(crate) user: Option<String>,
    pub(crate) host: Option<String>,
    /// Seconds the holder's connection has been in its current state.
    pub(crate) seconds: Option<u64>,
    pub(crate) state: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        describe_holder(
            f,
            self.connection_id,
            &self.user,
            &self.host,
            (self.seconds, &self.state),
        )
    }
}

/// `connection 42 (app@host:port, idle for 3 s)`. The process list says how long the
/// connection has been in its current state, not how long it has held the lock (another
/// dbtool's lock connection is idle between its looks).
pub(crate) fn describe_holder(
    f: &mut std::fmt::Formatter<'_>,
    id: u64,
    user: &Option<String>,
    host: &Option<String>,
    (seconds, state): (Option<u64>, &Option<String>),
) -> std::fmt::Result {
    write!(f, "connection {id}")?;
    match (user, host) {
        (Some(u), Some(h)) => write!(f, " ({u}@{h}")?,
        (Some(u), None) => write!(f, " ({u}")?,
        _ => write!(f, " (")?,
    }
    let state = state.as_deref().map(str::trim).filter(|s| !s.is_empty());
    match (seconds, state) {
        (Some(s), None) => write!(f, ", idle for {s} s)"),
        (Some(s), Some(state)) => write!(f, ", {state} for {s} s)"),
        (None, _) => write!(f, ")"),
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error(
        "could not get the migration lock `{name}` within {secs} s: it is held by {holder}\n  \
         another dbtool is running against this database; wait for it, or if it is stuck, \
         end its connection with `KILL {id}` (see `dbtool migrate:unlock`)",
        holder = holder.as_ref().map(|h| h.to_string()).unwrap_or_else(|| "another connection (gone now)".into()),
        id = holder.as_ref().map(|h| h.connection_id).unwrap_or(0),
    )]
    Timeout {
        name: String,
        secs: u64,
        holder: Option<Holder>,
    },
    #[error("GET_LOCK('{name}') failed (the server answered NULL)")]
    Null { name: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The lock's name for these tables: `dbtool:<db>.<table>`, hashed when longer than 64.
pub(crate) fn lock_name(t: &Tables) -> String {
    let full = format!(
        "dbtool:{}.{}",
        t.database.as_str(),
        t.migrations_name.as_str()
    );
    if full.chars().count() <= 64 {
        full
    } else {
        let digest = crate::files::checksum(full.as_bytes()).to_string();
        format!("dbtool:{}", &digest[..57])
    }
}

impl Db {
    /// Takes the lock, waiting up to `timeout`. Logs once when it has to wait.
    pub(crate) async fn lock(&mut self, name: &str, timeout: Duration) -> Result<(), LockError> {
        let start = Instant::now();
        let mut told = false;
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            // Whole seconds (fractions are not portable), at most 2 per step; 0 = try once.
            let step = left.as_secs_f64().ceil().min(2.0) as i64;
            let got: Option<Option<i64>> = self
                .conn
                .exec_first("SELECT GET_LOCK(?, ?)", (name, step))
                .await
                .map_err(DbError::from)?;
            match got.flatten() {
                Some(1) => return Ok(()),
                Some(_) => {}
                None => return Err(LockError::Null { name: name.into() }),
            }
            if start.elapsed() >= timeout {
                return Err(LockError::Timeout {
                    name: name.into(),
                    secs: timeout.as_secs(),
                    holder: self.lock_holder(name).await?,
                });
            }
            if !told {
                told = true;
                if let Some(h) = self.lock_holder(name).await? {
                    tracing::info!("waiting for the migration lock, held by {h}");
                }
            }
        }
    }

    /// Releases the lock (also released when the connection ends).
    pub(crate) async fn unlock(&mut self, name: &str) -> Result<(), DbError> {
        self.conn
            .exec_drop("DO RELEASE_LOCK(?)", (name,))
            .await
            .map_err(Into::into)
    }

    /// Who holds the lock now, if anyone.
    pub(crate) async fn lock_holder(&mut self, name: &str) -> Result<Option<Holder>, DbError> {
        let id: Option<Option<u64>> = self
            .conn
            .exec_first("SELECT IS_USED_LOCK(?)", (name,))
            .await?;
        let Some(id) = id.flatten() else {
            return Ok(None);
        };
        type P = (Option<String>, Option<String>, Option<u64>, Option<String>);
        // MySQL deprecates information_schema.PROCESSLIST (8.0.22+) for
        // performance_schema.processlist, which is empty when performance_schema is off and
        // which MariaDB lacks; the holder's details are a courtesy, so any failure is None.
        let mut info: Option<P> = None;
        if self.flavor().await? == super::Flavor::MySql {
            info = self
                .conn
                .exec_first(
                    "SELECT USER, HOST, TIME, STATE FROM performance_schema.processlist \
                     WHERE ID = ?",
                    (id,),
                )
                .await
                .unwrap_or(None);
        }
        if info.is_none() {
            info = self
                .conn
                .exec_first(
                    "SELECT USER, HOST, TIME, STATE FROM information_schema.PROCESSLIST \
                     WHERE ID = ?",
                    (id,),
                )
                .await
                .unwrap_or(None);
        }
        let (user, host, seconds, state) = info.unwrap_or_default();
        Ok(Some(Holder {
            connection_id: id,
            user,
            host,
            seconds,
            state,
        }))
    }
}
