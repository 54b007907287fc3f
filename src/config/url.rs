//! Database connection settings, from a URL or a knexfile `[ENV.connection]` table, and the
//! one place they are shown: always with the password replaced by `***` (SPEC §4).

use std::fmt;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

/// A password or other secret: never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that needs it: the connection handshake.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the connection uses TLS (the `mysql` client's `--ssl-mode` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disabled,
    /// TLS when the server offers it, without verifying the certificate.
    Preferred,
    /// TLS or fail, without verifying the certificate.
    Required,
    /// TLS with a certificate signed by `ssl_ca` (or a public root), any host name.
    VerifyCa,
    /// TLS with a verified certificate whose name matches the host.
    VerifyIdentity,
}

impl SslMode {
    pub const NAMES: &'static str = "disabled, preferred, required, verify_ca, verify_identity";

    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "disabled" | "disable" => SslMode::Disabled,
            "preferred" | "prefer" => SslMode::Preferred,
            "required" | "require" => SslMode::Required,
            "verify_ca" => SslMode::VerifyCa,
            "verify_identity" | "verify_full" => SslMode::VerifyIdentity,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        }
    }
}

/// Everything needed to open a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub database: Option<String>,
    pub socket: Option<PathBuf>,
    /// None: the default, which is `disabled` for a socket or a loopback address (the traffic
    /// never leaves the machine) and `preferred` for any other host.
    pub ssl_mode: Option<SslMode>,
    pub ssl_ca: Option<PathBuf>,
    /// How long connecting may take (None: the default, 10 s).
    pub connect_timeout: Option<std::time::Duration>,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            host: "127.0.0.1".into(),
            port: 3306,
            user: None,
            password: None,
            database: None,
            socket: None,
            ssl_mode: None,
            ssl_ca: None,
            connect_timeout: None,
        }
    }
}

impl Connection {
    pub fn is_loopback(&self) -> bool {
        self.socket.is_some()
            || self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    pub fn effective_ssl_mode(&self) -> SslMode {
        self.ssl_mode.unwrap_or(if self.is_loopback() {
            SslMode::Disabled
        } else {
            SslMode::Preferred
        })
    }

    /// `user@host:port/database`, as commands that write name their target (no password).
    pub fn target(&self) -> String {
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let at = match &self.socket {
            Some(s) => format!("{host} (socket {})", s.display()),
            None => format!("{host}:{}", self.port),
        };
        format!("{user}{at}/{}", self.database.as_deref().unwrap_or(""))
    }

    /// The server a connection reaches: its socket, or its host (every loopback name is one)
    /// and port.
    pub fn server(&self) -> String {
        if let Some(s) = &self.socket {
            return format!("socket:{}", s.display());
        }
        let host = if self.is_loopback() {
            "loopback".to_owned()
        } else {
            self.host.to_ascii_lowercase()
        };
        format!("{host}:{}", self.port)
    }

    /// Whether two connections reach the same database on the same server.
    pub fn same_database(&self, other: &Connection) -> bool {
        self.server() == other.server() && self.database == other.database
    }

    /// The same connection without a database (to create or drop it, or to wait for the server).
    pub fn without_database(&self) -> Connection {
        Connection {
            database: None,
            ..self.clone()
        }
    }
}

/// `mysql://user:***@host:port/db`, the only way a connection is ever shown.
impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mysql://")?;
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if self.password.is_some() {
                f.write_str(":***")?;
            }
            f.write_str("@")?;
        } else if self.password.is_some() {
            f.write_str(":***@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if self.socket.is_none() {
            write!(f, ":{}", self.port)?;
        }
        f.write_str("/")?;
        if let Some(db) = &self.database {
            f.write_str(db)?;
        }
        if let Some(socket) = &self.socket {
            write!(f, "?socket={}", socket.display())?;
        }
        Ok(())
    }
}

/// Why a URL is not a database URL. Never contains the URL's password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a URL (expected mysql://user:password@host:port/database)")]
    NotAUrl,
    #[error("unsupported scheme `{0}://` (expected mysql:// or mariadb://)")]
    Scheme(String),
    #[error("the port must be a number from 1 to 65535")]
    Port,
    #[error("`{param}={value}` is not a valid value (expected one of: {expected})")]
    Param {
        param: String,
        value: String,
        expected: &'static str,
    },
    #[error("the URL has no host (and no ?socket=)")]
    NoHost,
    #[error("`{0}` is not valid percent-encoded UTF-8")]
    Encoding(&'static str),
    #[error(
        "the {0} part holds `/`, `@` or `:` (not shown); percent-encode such characters in the \
         password (`/` is %2F, `?` %3F, `#` %23, `@` %40)"
    )]
    Spilled(&'static str),
    #[error(
        "the user or password (not shown) holds `/`, `?`, `#` or `@`, which end that part of a \
         URL: percent-encode them (`/` is %2F, `?` %3F, `#` %23, `@` %40, `:` %3A)"
    )]
    Unencoded,
}

/// A URL parameter that dbtool does not know; reported as a warning.
pub type UnknownParam = String;

/// Parses `mysql://user:password@host:port/database?ssl_mode=…&ssl_ca=…&socket=…`.
pub fn parse_url(text: &str) -> Result<(Connection, Vec<UnknownParam>), UrlError> {
    let text = text.trim();
    // The user and password run to the last `@`; a `/`, `?` or `#` (or another `@`) in them
    // would cut the URL there, and the rest would be read as a host, a path or a fragment.
    if let Some((_, rest)) = text.split_once("://")
        && let Some(at) = rest.rfind('@')
        && rest[..at].contains(['/', '?', '#', '@'])
    {
        return Err(UrlError::Unencoded);
    }
    let parse = |t: &str| {
        url::Url::parse(t).map_err(|e| match e {
            url::ParseError::InvalidPort => UrlError::Port,
            url::ParseError::EmptyHost => UrlError::NoHost,
            _ => UrlError::NotAUrl,
        })
    };
    // `mysql://user:pw@/db?socket=…` (dbmate's form for sockets) has no host, which the URL
    // grammar rejects: read it as localhost and require the socket below.
    let (url, hostless) = match parse(text) {
        Err(UrlError::NoHost) if text.contains("@/") => {
            (parse(&text.replacen("@/", "@localhost/", 1))?, true)
        }
        other => (other?, false),
    };
    match url.scheme() {
        "mysql" | "mariadb" => {}
        other => return Err(UrlError::Scheme(other.to_owned())),
    }
    let decode = |s: &str, what: &'static str| {
        percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| UrlError::Encoding(what))
    };
    let mut conn = Connection::default();
    if !url.username().is_empty() {
        conn.user = Some(decode(url.username(), "user")?);
    }
    if let Some(p) = url.password() {
        conn.password = Some(Secret(decode(p, "password")?));
    }
    let db = decode(url.path().trim_start_matches('/'), "database")?;
    // A password holding `/`, `?`, `#` or `@` that was not percent-encoded spills into the
    // path: refuse it without echoing it.
    if db.contains(['/', '@', ':']) {
        return Err(UrlError::Spilled("database"));
    }
    if !db.is_empty() {
        conn.database = Some(db);
    }
    if let Some(port) = url.port() {
        if port == 0 {
            return Err(UrlError::Port);
        }
        conn.port = port;
    }
    let unknown = read_params(&url, &mut conn)?;
    match url.host_str() {
        Some(h) if !h.is_empty() && !hostless => {
            conn.host = h.trim_start_matches('[').trim_end_matches(']').to_owned();
        }
        _ if conn.socket.is_some() => conn.host = "localhost".into(),
        _ => return Err(UrlError::NoHost),
    }
    Ok((conn, unknown))
}

/// Reads the URL's query parameters into `conn`; returns the names dbtool does not know.
fn read_params(url: &url::Url, conn: &mut Connection) -> Result<Vec<UnknownParam>, UrlError> {
    let mut unknown = Vec::new();
    for (k, v) in url.query_pairs() {
        match k.to_ascii_lowercase().replace('-', "_").as_str() {
            "ssl_mode" | "sslmode" => {
                conn.ssl_mode = Some(SslMode::parse(&v).ok_or_else(|| UrlError::Param {
                    param: k.to_string(),
                    value: v.to_string(),
                    expected: SslMode::NAMES,
                })?);
            }
            "ssl_ca" | "sslca" | "sslrootcert" => conn.ssl_ca = Some(PathBuf::from(v.as_ref())),
            "socket" => conn.socket = Some(PathBuf::from(v.as_ref())),
            "connect_timeout" => {
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && *s < 86_400.0)
                    .ok_or_else(|| UrlError::Param {
                        param: k.to_string(),
                        value: v.to_string(),
                        expected: "a number of seconds",
                    })?;
                conn.connect_timeout = Some(std::time::Duration::from_secs_f64(secs));
            }
            // A name that is not a plain word may be a spilled password: never echo it.
            _ if k.len() <= 40
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                unknown.push(k.to_string())
            }
            _ => unknown.push("(not shown: not a plain name)".to_owned()),
        }
    }
    Ok(unknown)
}

#[cfg(test)]
mod tests;
