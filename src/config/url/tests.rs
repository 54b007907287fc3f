//! URL parsing and redaction.

use super::*;

#[test]
fn parses_and_redacts() {
    let (c, unknown) =
        parse_url("mysql://app:s3cr%40t@db.example.com:3307/my_app?ssl_mode=verify_identity")
            .unwrap();
    assert!(unknown.is_empty());
    assert_eq!(c.user.as_deref(), Some("app"));
    assert_eq!(c.password.as_ref().map(Secret::expose), Some("s3cr@t"));
    assert_eq!(c.host, "db.example.com");
    assert_eq!(c.port, 3307);
    assert_eq!(c.database.as_deref(), Some("my_app"));
    assert_eq!(c.ssl_mode, Some(SslMode::VerifyIdentity));
    assert_eq!(c.to_string(), "mysql://app:***@db.example.com:3307/my_app");
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cr"), "{debug}");
    assert_eq!(c.effective_ssl_mode(), SslMode::VerifyIdentity);
}

#[test]
fn defaults_and_sockets() {
    let (c, _) = parse_url("mariadb://root@localhost").unwrap();
    assert_eq!(c.to_string(), "mysql://root@localhost:3306/");
    assert_eq!(c.effective_ssl_mode(), SslMode::Disabled);
    let (c, _) = parse_url("mysql://root:pw@/app?socket=/run/mysqld/mysqld.sock").unwrap();
    assert_eq!(
        c.to_string(),
        "mysql://root:***@localhost/app?socket=/run/mysqld/mysqld.sock"
    );
    let (c, _) = parse_url("mysql://u@[::1]:3306/x").unwrap();
    assert_eq!(c.host, "::1");
    assert!(c.is_loopback());
    let (c, unknown) = parse_url("mysql://u@db:3306/x?charset=utf8").unwrap();
    assert_eq!(unknown, ["charset"]);
    // A `?` in the password: refused with the hint, never read as a query.
    assert_eq!(
        parse_url("mysql://u:123?hunter2@h/db"),
        Err(UrlError::Unencoded)
    );
    assert_eq!(c.effective_ssl_mode(), SslMode::Preferred);
}

#[test]
fn errors_never_show_the_password() {
    for (url, want) in [
        (
            "postgres://u:hunter2@h/db",
            "unsupported scheme `postgres://`",
        ),
        ("u:hunter2@h/db", "unsupported scheme `u://`"),
        ("hunter2", "not a URL"),
        ("mysql://u:hunter2@h:99999/db", "port"),
        (
            "mysql://u:hunter2@h/db?ssl_mode=sometimes",
            "not a valid value",
        ),
        ("mysql://u:hunter2@/db", "no host"),
        ("mysql://mariadb://u:hunter2@h/db", "percent-encode"),
        ("mysql://u:pw/hunter2@h/db", "percent-encode"),
    ] {
        let e = parse_url(url).unwrap_err().to_string();
        assert!(e.contains(want), "{url}: {e}");
        assert!(!e.contains("hunter2"), "{url}: {e}");
    }
}

#[test]
fn a_password_that_breaks_the_url_gets_the_percent_encoding_hint() {
    for url in [
        "mysql://app:Zq#x9@db.example.com:3306/app",
        "mysql://app:Zq/x9@db.example.com:3306/app",
        "mysql://app:Zq@x9@db.example.com:3306/app",
        "mysql://app:Zq?x9@db.example.com:3306/app",
    ] {
        let e = parse_url(url).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("percent-encode")
                && !e.contains("Zq")
                && !e.contains("x9")),
            "{url}: {e:?}"
        );
    }
}
