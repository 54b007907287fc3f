//! Turning connection settings into mysql_async's TLS options, and a failed connection
//! attempt into an error that says what to change (never the password).

use mysql_async::SslOpts;

use super::{ConnectError, ServerError, codes};
use crate::config::{Connection, SslMode};

pub(super) fn ssl_opts(mode: SslMode, c: &Connection) -> Option<SslOpts> {
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

pub(super) fn connect_error(e: mysql_async::Error, target: &str, c: &Connection) -> ConnectError {
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
                    " (is the server running? --wait waits for it)"
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
