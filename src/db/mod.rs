//! The one connection a command uses for all its work, and what it knows how to do: run the
//! user's statements (one at a time or batched), read and write the ledger, take the lock.
//!
//! Connecting: TCP stays TCP (`prefer_socket = false`; mysql_async would otherwise reconnect
//! over the server's socket), TLS goes through rustls, a connect timeout makes an unreachable
//! host fail fast, and the settings mysql_async would query at connect time are given instead
//! (one round trip less for every command). Errors name the redacted URL, never the password.

mod connect;
use connect::{connect_error, ssl_opts};
pub(crate) mod explain;
pub(crate) mod foreign;
pub(crate) mod ledger;
pub(crate) mod lock;
pub(crate) mod online;
pub(crate) mod packet;
pub(crate) mod schema;
pub(crate) mod waits;
pub(crate) mod warm;

use std::fmt;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, SslOpts};

use crate::config::{Connection, SslMode};
use crate::sql::gated::Reader;

/// How long a connection attempt may take unless `connect_timeout` says otherwise.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest packet mysql_async will accept from or send to the server: 1 GiB, the protocol's
/// own limit. The server's `max_allowed_packet` is smaller and is read when it matters.
const CLIENT_MAX_PACKET: usize = 1 << 30;

/// A server error as the mysql client shows it: `ERROR 1054 (42S22): Unknown column …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerError {
    pub(crate) code: u16,
    pub(crate) state: String,
    pub(crate) message: String,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR {} ({}): {}", self.code, self.state, self.message)
    }
}

/// Why a query did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DbError {
    #[error("{0}")]
    Server(ServerError),
    /// The connection broke (server gone, killed, network): nothing more can be sent on it.
    #[error("lost the connection to the server ({0})")]
    Lost(String),
    #[error("{0}")]
    Driver(String),
}

impl DbError {
    pub(crate) fn is_lost(&self) -> bool {
        matches!(self, DbError::Lost(_))
    }
}

/// Server error codes dbtool reacts to.
pub(crate) mod codes {
    /// ER_BAD_DB_ERROR
    pub(crate) const UNKNOWN_DATABASE: u16 = 1049;
    /// ER_NO_SUCH_TABLE
    pub(crate) const NO_SUCH_TABLE: u16 = 1146;
    /// ER_BAD_FIELD_ERROR
    pub(crate) const UNKNOWN_COLUMN: u16 = 1054;
    /// ER_CONNECTION_KILLED (MariaDB; MySQL closes the connection instead)
    pub(crate) const CONNECTION_KILLED: u16 = 1927;
    /// ER_SERVER_SHUTDOWN
    pub(crate) const SERVER_SHUTDOWN: u16 = 1053;
    /// ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8.0.24+: wait_timeout ended the session)
    pub(crate) const CLIENT_TIMEOUT: u16 = 4031;
}

impl From<mysql_async::Error> for DbError {
    fn from(e: mysql_async::Error) -> Self {
        match e {
            mysql_async::Error::Server(s) => {
                // A killed connection or a server shutting down ends the connection too.
                if matches!(
                    s.code,
                    codes::CONNECTION_KILLED | codes::SERVER_SHUTDOWN | codes::CLIENT_TIMEOUT
                ) {
                    DbError::Lost(format!("ERROR {} ({}): {}", s.code, s.state, s.message))
                } else {
                    DbError::Server(ServerError {
                        code: s.code,
                        state: s.state,
                        message: s.message,
                    })
                }
            }
            mysql_async::Error::Io(io) => DbError::Lost(io.to_string()),
            mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
                DbError::Lost("the connection is closed".into())
            }
            mysql_async::Error::Driver(d) => DbError::Driver(d.to_string()),
            other => DbError::Driver(other.to_string()),
        }
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot connect to {target}: {problem}")]
    Failed { target: String, problem: String },
    /// The server answered, and refused (a login error): waiting will not help.
    #[error("cannot connect to {target}: {error}")]
    Refused { target: String, error: ServerError },
    #[error("cannot connect to {target}: no answer within {secs} s (connect_timeout)")]
    Timeout { target: String, secs: u64 },
    #[error(
        "database `{database}` does not exist on {target}\n  create it with `dbtool db:create`"
    )]
    UnknownDatabase { target: String, database: String },
    #[error("cannot connect to {target}: {problem}")]
    Tls { target: String, problem: String },
    /// `--wait` or `db:wait` waited, and the server never answered.
    #[error("{target} did not answer within {secs} s (the last attempt: {last})")]
    GaveUp {
        target: String,
        secs: u64,
        last: String,
    },
}

/// Which server answers. MySQL's versions now pass 10 (9.7, then calendar versions such as
/// 26.7), so the number says nothing; MariaDB puts its name in `VERSION()`, MySQL never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    /// The flavor a `VERSION()` string names.
    pub(crate) fn of_version(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }
}

/// One open connection.
pub(crate) struct Db {
    pub(crate) conn: Conn,
    /// The server's flavor, once read (`Db::flavor`).
    flavor: Option<Flavor>,
    /// The server's `max_allowed_packet`, and what it reads of executable comments, once read.
    server: Option<(usize, Reader)>,
}

impl Db {
    /// Opens a connection. `database` may be None (db:create, db:wait).
    pub(crate) async fn connect(c: &Connection, timeout: Duration) -> Result<Db, ConnectError> {
        let target = c.to_string();
        let mut opts = OptsBuilder::default()
            .ip_or_hostname(c.host.clone())
            .tcp_port(c.port)
            .user(c.user.clone())
            .pass(c.password.as_ref().map(|p| p.expose().to_owned()))
            .db_name(c.database.clone())
            .prefer_socket(false)
            .socket(c.socket.as_ref().map(|p| p.to_string_lossy().into_owned()))
            .max_allowed_packet(Some(CLIENT_MAX_PACKET))
            .wait_timeout(Some(28_800))
            .tcp_nodelay(true)
            .stmt_cache_size(32);
        let mode = c.effective_ssl_mode();
        if mode == SslMode::VerifyCa && c.ssl_ca.is_none() {
            // As the mysql client: checking "the CA" needs to know which one.
            return Err(ConnectError::Tls {
                target,
                problem: "ssl_mode is verify_ca but no ssl_ca is given: set ssl_ca to the CA \
                          certificate that signed the server's (or use verify_identity to \
                          trust the public CAs for this host name)"
                    .into(),
            });
        }
        if let Some(ssl) = ssl_opts(mode, c) {
            // mysql_async reads `ssl_ca` only during the handshake and then reports a missing
            // file as a bare "No such file or directory", naming neither the file nor TLS.
            if let Some(ca) = &c.ssl_ca
                && let Err(e) = std::fs::File::open(ca)
            {
                return Err(ConnectError::Tls {
                    target,
                    problem: format!("cannot read ssl_ca {}: {e}", ca.display()),
                });
            }
            opts = opts.ssl_opts(ssl);
        }
        let attempt = tokio::time::timeout(timeout, Conn::new(opts.clone())).await;
        let conn = match attempt {
            Err(_) => {
                return Err(ConnectError::Timeout {
                    target,
                    secs: timeout.as_secs(),
                });
            }
            // `preferred`: a server without TLS gets a plain connection.
            Ok(Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer,
            ))) if mode == SslMode::Preferred => {
                let plain = opts.ssl_opts(None::<SslOpts>);
                match tokio::time::timeout(timeout, Conn::new(plain)).await {
                    Err(_) => {
                        return Err(ConnectError::Timeout {
                            target,
                            secs: timeout.as_secs(),
                        });
                    }
                    Ok(r) => r.map_err(|e| connect_error(e, &target, c))?,
                }
            }
            Ok(r) => r.map_err(|e| connect_error(e, &target, c))?,
        };
        Ok(Db {
            conn,
            flavor: None,
            server: None,
        })
    }

    /// Rolls back the open transaction (a no-op without one) and says whether the server
    /// warned that some of it could not be undone (ER_WARNING_NOT_COMPLETE_ROLLBACK, 1196:
    /// rows written to MyISAM, MEMORY or other non-transactional tables stay).
    pub(crate) async fn rollback(&mut self) -> Result<bool, DbError> {
        self.conn.query_drop("ROLLBACK").await?;
        if self.conn.get_warnings() == 0 {
            return Ok(false);
        }
        let warnings: Vec<(String, u32, String)> = self.conn.query("SHOW WARNINGS").await?;
        Ok(warnings.iter().any(|(_, code, _)| *code == 1196))
    }

    /// Which of `tables` (in the current database) do not roll back: `table (ENGINE)`.
    pub(crate) async fn non_transactional(&mut self, tables: &[String]) -> Vec<String> {
        if tables.is_empty() {
            return Vec::new();
        }
        let list = tables
            .iter()
            .map(|t| ledger::write::text(t))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({list}) \
             AND ENGINE IS NOT NULL AND ENGINE NOT IN ('InnoDB', 'ndbcluster', 'TokuDB', 'RocksDB')"
        );
        let rows: Vec<(String, String)> = self.conn.query(sql).await.unwrap_or_default();
        rows.into_iter()
            .map(|(t, e)| format!("{e} table `{t}`"))
            .collect()
    }

    /// Connects, retrying for up to `wait` while the server does not answer (it is starting);
    /// a server that answers and refuses (a login or TLS error, no such database) is not
    /// waited for. Each attempt may take `attempt`.
    pub(crate) async fn connect_waiting(
        c: &Connection,
        attempt: Duration,
        wait: Option<Duration>,
    ) -> Result<Db, ConnectError> {
        let Some(wait) = wait else {
            return Db::connect(c, attempt).await;
        };
        let started = std::time::Instant::now();
        let mut told = false;
        loop {
            let left = wait.saturating_sub(started.elapsed());
            let this = attempt.min(left.max(Duration::from_millis(200)));
            match Db::connect(c, this).await {
                Ok(db) => return Ok(db),
                Err(e @ (ConnectError::Failed { .. } | ConnectError::Timeout { .. })) => {
                    if started.elapsed() >= wait {
                        let last = match e {
                            ConnectError::Failed { problem, .. } => problem,
                            other => other.to_string(),
                        };
                        return Err(ConnectError::GaveUp {
                            target: c.to_string(),
                            secs: wait.as_secs(),
                            last: last.replace(" (is the server running? --wait waits for it)", ""),
                        });
                    }
                    if !told {
                        told = true;
                        tracing::info!("waiting for {c} to answer…");
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The server's `max_allowed_packet` (read once, with its version).
    pub(crate) async fn max_packet(&mut self) -> Result<usize, DbError> {
        if let Some((n, _)) = self.server {
            return Ok(n);
        }
        let row: Option<(u64, String)> = self
            .conn
            .query_first("SELECT @@max_allowed_packet, VERSION()")
            .await?;
        let (n, version) = row.unwrap_or((4 << 20, String::new()));
        let n = n as usize;
        self.server = Some((n, Reader::of_version(&version)));
        self.flavor.get_or_insert(Flavor::of_version(&version));
        Ok(n)
    }

    /// What the server reads of executable comments, once [`max_packet`](Self::max_packet)
    /// has been read (before: a reader that reads every statement as written).
    pub(crate) fn reader(&self) -> Option<Reader> {
        self.server.map(|(_, r)| r)
    }

    /// MariaDB or MySQL, from `VERSION()` (read once, only by the commands that need it).
    pub(crate) async fn flavor(&mut self) -> Result<Flavor, DbError> {
        if let Some(f) = self.flavor {
            return Ok(f);
        }
        let v: Option<String> = self.conn.query_first("SELECT VERSION()").await?;
        let f = Flavor::of_version(v.as_deref().unwrap_or(""));
        self.flavor = Some(f);
        Ok(f)
    }

    /// Closes the connection politely (a dropped connection is closed by the server too).
    pub(crate) async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

#[cfg(test)]
mod tests {
    use super::Flavor;

    #[test]
    fn the_flavor_comes_from_the_version_string_not_the_number() {
        for (v, f) in [
            ("10.11.19-MariaDB-0+deb12u1", Flavor::MariaDb),
            ("5.5.5-10.6.18-MariaDB-log", Flavor::MariaDb),
            ("11.4.2-MariaDB", Flavor::MariaDb),
            ("9.7.4-2", Flavor::MySql),
            ("8.4.3", Flavor::MySql),
            ("8.0.40-0ubuntu0.22.04.1", Flavor::MySql),
            ("26.7.0", Flavor::MySql),
            ("11.0.0-commercial", Flavor::MySql),
        ] {
            assert_eq!(Flavor::of_version(v), f, "{v}");
        }
    }
}
