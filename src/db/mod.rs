//! The one connection a command uses for all its work, and what it knows how to do: run the
//! user's statements (one at a time or batched), read and write the ledger, take the lock.
//!
//! Connecting: TCP stays TCP (`prefer_socket = false`; mysql_async would otherwise reconnect
//! over the server's socket), TLS goes through rustls, a connect timeout makes an unreachable
//! host fail fast, and the settings mysql_async would query at connect time are given instead
//! (one round trip less for every command). Errors name the redacted URL, never the password.

pub(crate) mod ledger;
pub(crate) mod lock;
pub(crate) mod packet;

use std::fmt;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, SslOpts};

use crate::config::{Connection, SslMode};

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
    /// The server's `max_allowed_packet`, once read.
    max_packet: Option<usize>,
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
            max_packet: None,
        })
    }

    /// The server's `max_allowed_packet` (read once).
    pub(crate) async fn max_packet(&mut self) -> Result<usize, DbError> {
        if let Some(n) = self.max_packet {
            return Ok(n);
        }
        let n: Option<u64> = self.conn.query_first("SELECT @@max_allowed_packet").await?;
        let n = n.unwrap_or(4 << 20) as usize;
        self.max_packet = Some(n);
        Ok(n)
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

fn ssl_opts(mode: SslMode, c: &Connection) -> Option<SslOpts> {
    let base = || {
        let mut o = SslOpts::default();
        if let Some(ca) = &c.ssl_ca {
            // A given `ssl_ca` is the only trust anchor (as for the mysql client's --ssl-ca).
            // mysql_async would also trust every public web root, and with verify_ca's skipped
            // name check any holder of any publicly issued certificate would then pass.
            o = o
                .with_root_certs(vec![ca.clone().into()])
                .with_disable_built_in_roots(true);
        }
        o
    };
    match mode {
        SslMode::Disabled => None,
        SslMode::Preferred | SslMode::Required => Some(
            base()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        // verify_ca: the chain must lead to the CA, any name goes. mysql_async 0.37 skips the
        // name check only when the rustls error's text contains "NotValidForName", and the
        // rustls in use (0.23.46) no longer writes that (it says `certificate not valid for
        // name "<host>"`), so `with_danger_skip_domain_validation` alone rejects every
        // certificate that does not name the host. The error quotes the name it expected, so
        // the handshake is made for a name that contains the marker (a reserved `.invalid`
        // name, which only goes into SNI; MySQL/MariaDB ignore SNI). webpki checks the chain
        // before the name, so a name error means the chain was good; any other failure
        // (unknown issuer, expiry) is reported as before.
        SslMode::VerifyCa => Some(
            base()
                .with_danger_skip_domain_validation(true)
                .with_danger_tls_hostname_override(Some("NotValidForName.invalid")),
        ),
        SslMode::VerifyIdentity => Some(base()),
    }
}

fn connect_error(e: mysql_async::Error, target: &str, c: &Connection) -> ConnectError {
    let target = target.to_owned();
    match e {
        mysql_async::Error::Server(s) if s.code == codes::UNKNOWN_DATABASE => {
            ConnectError::UnknownDatabase {
                target,
                database: c.database.clone().unwrap_or_default(),
            }
        }
        mysql_async::Error::Server(s) => ConnectError::Refused {
            target,
            error: ServerError {
                code: s.code,
                state: s.state,
                message: s.message,
            },
        },
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => {
            ConnectError::Tls {
                target,
                problem: format!(
                    "the server does not offer TLS, but ssl_mode is {}",
                    c.effective_ssl_mode().as_str()
                ),
            }
        }
        mysql_async::Error::Io(mysql_async::IoError::Tls(t)) => ConnectError::Tls {
            target,
            problem: format!("TLS handshake failed: {t}"),
        },
        // tokio-rustls hands a failed handshake (a rejected certificate, an alert) back as an
        // InvalidData I/O error, so it is not an `IoError::Tls`: without this arm it read
        // "cannot connect to …: invalid peer certificate: UnknownIssuer", not saying TLS nor
        // what to change.
        mysql_async::Error::Io(mysql_async::IoError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData
                && c.effective_ssl_mode() != SslMode::Disabled =>
        {
            let text = io.to_string();
            let hint = if text.contains("UnknownIssuer") {
                match &c.ssl_ca {
                    Some(ca) => format!(
                        " (the server's certificate is not signed by the CA in ssl_ca {})",
                        ca.display()
                    ),
                    None => " (the server's certificate is not signed by a public CA: set \
                             ssl_ca to the CA certificate that signed it)"
                        .to_owned(),
                }
            } else if text.contains("not valid for name") {
                " (ssl_mode is verify_identity: the URL's host must be a name the certificate \
                 lists; verify_ca checks the CA only)"
                    .to_owned()
            } else {
                String::new()
            };
            ConnectError::Tls {
                target,
                problem: format!("TLS handshake failed: {text}{hint}"),
            }
        }
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => {
            let hint = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    " (is the server running? `dbtool db:wait` waits for it)"
                }
                _ => "",
            };
            ConnectError::Failed {
                target,
                problem: format!("{io}{hint}"),
            }
        }
        other => ConnectError::Failed {
            target,
            problem: other.to_string(),
        },
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
